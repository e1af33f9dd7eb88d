from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "cpe.moderation"
    label = "moderation"
    verbose_name = "账号处置与封禁"

    def ready(self):
        from . import (
            account_life,
            selectors,  # noqa: F401  (connects the memo's reset to saves of Ban)
        )

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
