from django.apps import AppConfig

from cpe.accounts import hooks as accounts_hooks


class LearningConfig(AppConfig):
    name = "cpe.learning"
    label = "learning"
    verbose_name = "学习"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from . import account_life, hotpath, services, signals  # noqa: F401  (settings hook; the sign-in/sign-out hooks that revoke play tokens)

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # A hold, a termination or a new password stops the account's players now.
        accounts_hooks.play_sessions_revoke.register(
            "learning", lambda **kw: services.play_sessions_revoke(**kw)
        )
