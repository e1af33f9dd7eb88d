from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cpe.accounts"
    label = "accounts"
    verbose_name = "用户与账号"

    def ready(self):
        from . import signals  # noqa: F401
        from . import account_life

        account_life.register()   # its part of the account's life (cpe.accounts.lifecycle)
