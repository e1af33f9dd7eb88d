from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "cpe.invoicing"
    label = "invoicing"
    verbose_name = "发票"
