from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cpe.accounts.models import User
from cpe.accounts.second_factor import current_code, factor_for


class Command(BaseCommand):
    help = "Print a demo staff account's current second-factor code (DEBUG only)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="工作人员登录名，如 admin、finance")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            # A code printed from the server is a second factor that is not a second factor.
            raise CommandError("只能在 DEBUG 开启的本机演示环境中使用。")
        user = User.objects.filter(username=username, is_staff=True).first()
        factor = factor_for(user) if user is not None else None
        if factor is None or not factor.confirmed:
            raise CommandError(f"工作人员 {username} 没有已绑定的两步验证（先运行 seed_demo）。")
        self.stdout.write(current_code(factor))
