from django.apps import AppConfig

from cpe.accounts import hooks as accounts_hooks
from cpe.credits import hooks as credits_hooks


class ReportingConfig(AppConfig):
    name = "cpe.reporting"
    label = "reporting"
    verbose_name = "会计信息系统上报"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from . import account_life, selectors, services

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # After commit, is the person in the AIS? (rules R1.9): on registering, after the
        # agreement's acceptance, and after an approved change of name or ID number.
        accounts_hooks.registered.register(
            "reporting", lambda user, **facts: services.ais_check_after_registration(user), order=20
        )
        accounts_hooks.identity_changed.register(
            "reporting", lambda user: services.ais_check_after_registration(user)
        )
        # Each credit record is reported, each revoked one reversed, in the same transaction (rules R9).
        # The record was created in this transaction: no existing outbox row to look for.
        credits_hooks.record_created.register(
            "reporting",
            lambda record: services.report_enqueue_for_record(record, at=record.created_at, fresh=True),
        )
        credits_hooks.record_revoked.register(
            "reporting", lambda record: services.reversal_enqueue_for_record(record, at=record.revoked_at)
        )
        credits_hooks.acknowledged.register(
            "reporting", lambda record_ids: selectors.acknowledged(record_ids)
        )
        credits_hooks.report_states.register("reporting", lambda user: selectors.report_states_for_user(user))
