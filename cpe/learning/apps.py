from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "cpe.learning"
    label = "learning"
    verbose_name = "学习"

    def ready(self):
        from . import account_life, hotpath, signals  # noqa: F401  (settings hook; the sign-in/sign-out hooks that revoke play tokens)

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
