from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "cpe.reporting"
    label = "reporting"
    verbose_name = "会计信息系统上报"

    def ready(self):
        from . import account_life

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
