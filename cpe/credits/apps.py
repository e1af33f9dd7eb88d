from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "cpe.credits"
    label = "credits"
    verbose_name = "学时与证书"

    def ready(self):
        # Imported here, not at the top: models and selectors need the app registry ready.
        from cpe.accounts import hooks as accounts_hooks

        from . import account_life, selectors

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # The dashboard's enrolments, hours, planner and certificates.
        accounts_hooks.dashboard_studies.register(
            "credits", lambda user, at: selectors.dashboard_studies(user, at)
        )
