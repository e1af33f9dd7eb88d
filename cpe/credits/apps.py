from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "cpe.credits"
    label = "credits"
    verbose_name = "学时与证书"

    def ready(self):
        from . import account_life

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
