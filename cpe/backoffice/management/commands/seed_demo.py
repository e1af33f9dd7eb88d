from django.core.management.base import BaseCommand

from cpe.backoffice.demo import demo_seed


class Command(BaseCommand):
    help = "Load the demo agreement and accounts (idempotent) and print how to sign in."

    def handle(self, *args, **options):
        accounts = demo_seed()
        self.stdout.write("\n演示账号（仅用于本机试用）：")
        for role, login, password in accounts:
            self.stdout.write(f"  {role:<8} 登录名：{login:<32} 密码：{password}")
        self.stdout.write("  学员在 /accounts/login/ 登录；工作人员在 /admin/ 登录。\n")
