from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "cpe.notices"
    label = "notices"
    verbose_name = "通知与消息"

    def ready(self):
        from . import account_life

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
