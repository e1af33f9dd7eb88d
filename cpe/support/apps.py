from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "cpe.support"
    label = "support"
    verbose_name = "客服与答疑"
