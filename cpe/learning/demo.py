"""Demo courseware: short test lectures made with ffmpeg's test sources (nobody's content)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from django.core.files import File
from django.utils import timezone

from cpe.catalog.models import Chapter
from cpe.core.timewin import local_date

from . import courseware
from .models import ChapterVideo, VideoStatus


def make_demo_video(chapter, seconds: int = 30) -> ChapterVideo:
    """Make (or remake) a chapter's video from ffmpeg's testsrc2 + sine and transcode it now,
    in this process (a command, not a request). The chapter's duration becomes the video's."""
    from .services import video_transcode

    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg not found: install Debian's ffmpeg package (make sysdeps)")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "demo.mp4"
        subprocess.run(courseware.demo_source_cmd(src, seconds), check=True, timeout=300)
        video = ChapterVideo.objects.filter(chapter=chapter).first() or ChapterVideo(chapter=chapter)
        with open(src, "rb") as f:
            video.source.save(f"demo-{chapter.pk}.mp4", File(f), save=False)
        video.status, video.progress, video.error = VideoStatus.PENDING, 0, ""
        video.save()
    video_transcode(video.pk)
    video.refresh_from_db()
    return video


def make_demo_videos(
    *, seconds: int = 30, course_codes=None, only_missing: bool = True
) -> list[ChapterVideo]:
    chapters = Chapter.objects.select_related("course").order_by("course__position", "position")
    if course_codes:
        chapters = chapters.filter(course__code__in=course_codes)
    else:  # this year's courses: last year's demo record is never played again
        chapters = chapters.filter(course__year__year=local_date(timezone.now()).year)
    made = []
    for ch in chapters:
        existing = ChapterVideo.objects.filter(chapter=ch, status=VideoStatus.READY).first()
        if only_missing and existing and existing.is_ready and courseware.rendition_exists(existing.hls_dir):
            continue
        made.append(make_demo_video(ch, seconds))
    return made
