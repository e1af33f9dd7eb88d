from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cpe.accounts.second_factor import key_text
from cpe.backoffice.demo import demo_seed, demo_staff_second_factors


class Command(BaseCommand):
    help = "Load the demo agreement and accounts (idempotent) and print how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--no-history", action="store_true", help="不生成演示学员上一年度的学习记录")

    def handle(self, *args, no_history=False, **options):
        if not settings.DEBUG:
            # The demo accounts have printed, well-known passwords: never on a real site.
            raise CommandError("演示数据只能在 DEBUG 开启的本机环境中生成（其账号密码是公开的）。")
        accounts = demo_seed(history=not no_history)
        self.stdout.write("\n演示账号（仅用于本机试用）：")
        for role, login, password in accounts:
            self.stdout.write(f"  {role:<8} 登录名：{login:<32} 密码：{password}")
        self.stdout.write("  学员在 /accounts/login/ 登录；工作人员在 /admin/ 登录。")
        self.stdout.write(
            "\n工作人员两步验证（TOTP，30 秒 6 位；把密钥加入身份验证器，或运行"
            " `.venv/bin/python manage.py demo_otp_code 登录名` 得到当前验证码）："
        )
        for username, factor in demo_staff_second_factors().items():
            self.stdout.write(f"  {username:<16} 密钥：{key_text(factor)}")
        self.stdout.write("")
