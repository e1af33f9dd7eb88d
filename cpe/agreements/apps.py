from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "cpe.agreements"
    label = "agreements"
    verbose_name = "用户协议"

    def ready(self):
        from . import account_life, selectors  # noqa: F401  (selectors: connects the version memo's reset to saves)

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
