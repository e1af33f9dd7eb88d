from django.apps import AppConfig

from cpe.accounts import hooks as accounts_hooks


class AgreementsConfig(AppConfig):
    name = "cpe.agreements"
    label = "agreements"
    verbose_name = "用户协议"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from . import (
            account_life,
            selectors,
            services,
        )  # selectors: connects the version memo's reset to saves

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # A new learner accepts the current version while registering (accounts sits below).
        accounts_hooks.agreement_to_accept.register("agreements", lambda at: selectors.version_to_accept(at))
        accounts_hooks.registered.register(
            "agreements",
            lambda user, *, agreement_version, ip, user_agent, at: services.agreement_accept(
                user=user, version=agreement_version, ip=ip, user_agent=user_agent, at=at
            ),
            order=10,
        )
