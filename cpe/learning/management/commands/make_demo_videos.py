from django.core.management.base import BaseCommand

from cpe.learning.demo import make_demo_videos


class Command(BaseCommand):
    help = "为演示课程章节生成测试视频（ffmpeg testsrc2 + sine）并转码为加密 HLS"

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=int, default=30, help="每个章节视频的时长（秒，默认 30）")
        parser.add_argument("--course", action="append", dest="courses", help="只处理这些课程编号")
        parser.add_argument("--force", action="store_true", help="重新生成已有的视频")

    def handle(self, *args, seconds, courses, force, **opts):
        for v in make_demo_videos(seconds=seconds, course_codes=courses, only_missing=not force):
            self.stdout.write(
                f"{v.chapter.course.code} {v.chapter}: {v.get_status_display()} {v.duration or 0:.1f}s "
                f"{v.error[:200]}"
            )
