from django.apps import AppConfig

from cpe.accounts import hooks as accounts_hooks
from cpe.learning import hooks as learning_hooks


class ModerationConfig(AppConfig):
    name = "cpe.moderation"
    label = "moderation"
    verbose_name = "账号处置与封禁"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from . import (
            account_life,
            selectors,  # connects the memo's reset to saves of Ban
            services,
        )

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # A banned account's correct password is a refused sign-in; a terminated learner is told.
        accounts_hooks.login_refused.register("moderation", lambda **kw: services.ban_login_refuse(**kw))
        accounts_hooks.terminated.register(
            "moderation", lambda user, at, **kw: services.termination_notify(user, at, **kw)
        )
        # The player's standing: an account ban stops studying.
        learning_hooks.banned_user_ids.register(
            "moderation", lambda ids, at: selectors.banned_user_ids(ids, at)
        )
