from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cpe.accounts"
    label = "accounts"
    verbose_name = "用户与账号"

    def ready(self):
        from . import signals  # noqa: F401
