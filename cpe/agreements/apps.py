from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "cpe.agreements"
    label = "agreements"
    verbose_name = "用户协议"
