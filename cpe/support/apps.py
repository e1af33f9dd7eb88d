from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "cpe.support"
    label = "support"
    verbose_name = "客服与答疑"

    def ready(self):
        from . import account_life

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
