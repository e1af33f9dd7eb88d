from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cpe.accounts"
    label = "accounts"
    verbose_name = "用户与账号"

    def ready(self):
        from . import (
            account_life,
            signals,  # noqa: F401
        )

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
