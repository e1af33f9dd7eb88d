from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "cpe.exams"
    label = "exams"
    verbose_name = "考试"

    def ready(self):
        from . import account_life

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
