from django.core.management.base import BaseCommand, CommandError

from cpe.core.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain from the first event to the last."

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"审计日志链校验失败：第 {report.first_bad_seq} 条，{report.problem}（已校验 {report.checked} 条）"
            )
        self.stdout.write(f"审计日志链完整：共 {report.checked} 条事件")
