from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "cpe.agreements"
    label = "agreements"
    verbose_name = "用户协议"

    def ready(self):
        from . import selectors  # noqa: F401  (connects the version memo's reset to saves)
