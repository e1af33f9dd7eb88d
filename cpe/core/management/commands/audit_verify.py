from django.core.management.base import BaseCommand, CommandError

from cpe.core.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log's HMAC chain from the first event to the last, and against the "
        "heads recorded outside the database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--heads", help="a copy of the recorded heads file (default: settings.AUDIT_HEADS_FILE)"
        )

    def handle(self, *args, **options):
        report = audit_verify(heads_file=options.get("heads"))
        if not report.ok:
            where = f"第 {report.first_bad_seq} 条，" if report.first_bad_seq is not None else ""
            raise CommandError(f"审计日志链校验失败：{where}{report.problem}（已校验 {report.checked} 条）")
        self.stdout.write(
            f"审计日志链完整：共 {report.checked} 条事件"
            + (f"（其中启用密钥前的 {report.plain} 条为普通哈希）" if report.plain else "")
        )
        if report.heads_source:
            self.stdout.write(f"与库外记录的链头一致：{report.heads_checked} 条（{report.heads_source}）")
        else:
            self.stderr.write("未找到库外链头记录文件：只校验了数据库内部的一致性")
