from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "cpe.invoicing"
    label = "invoicing"
    verbose_name = "发票"

    def ready(self):
        from . import account_life

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
