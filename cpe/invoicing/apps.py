from django.apps import AppConfig

from cpe.orders import hooks as orders_hooks


class InvoicingConfig(AppConfig):
    name = "cpe.invoicing"
    label = "invoicing"
    verbose_name = "发票"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from . import account_life, selectors, services

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        # A refund reverses the order's invoice; 我的订单 shows each order's invoice state.
        orders_hooks.refunded.register("invoicing", lambda **kw: services.invoice_reverse_after_refund(**kw))
        orders_hooks.invoice_states.register(
            "invoicing", lambda user, orders, *, at: selectors.invoice_state_for_orders(user, orders, at=at)
        )
