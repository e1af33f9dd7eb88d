from django.core.management.base import BaseCommand

from cpe.core.audit import audit_head_record


class Command(BaseCommand):
    help = (
        "Append the audit chain's head (seq and hash) to the heads file (settings.AUDIT_HEADS_FILE, "
        "or --file): what the beat task does, for cron or by hand."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", help="heads file to append to (default: settings.AUDIT_HEADS_FILE)")

    def handle(self, *args, **options):
        record = audit_head_record(options.get("file"))
        if record is None:
            self.stdout.write("链头未变化（或审计日志为空、未配置记录文件），未追加")
        else:
            self.stdout.write(f"已记录链头：第 {record['seq']} 条 {record['hash']}")
