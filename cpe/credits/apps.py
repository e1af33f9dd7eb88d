from django.apps import AppConfig

from cpe.accounts import hooks as accounts_hooks


class CreditsConfig(AppConfig):
    name = "cpe.credits"
    label = "credits"
    verbose_name = "学时与证书"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from . import account_life, selectors

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # The dashboard's enrolments, hours, planner and certificates.
        accounts_hooks.dashboard_studies.register(
            "credits", lambda user, at: selectors.dashboard_studies(user, at)
        )
