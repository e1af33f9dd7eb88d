from django.apps import AppConfig

from cpe.catalog import hooks as catalog_hooks
from cpe.learning import hooks as learning_hooks


class OrdersConfig(AppConfig):
    name = "cpe.orders"
    label = "orders"
    verbose_name = "订单与支付"

    def ready(self):
        # Imported here, not at the top: these modules import models, loaded after this one.
        from cpe.notices.selectors import register_bought_year_ids

        from . import account_life, selectors, services
        from .selectors import bought_year_ids

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        register_bought_year_ids(bought_year_ids)  # notices' announcements to a year's buyers
        # The catalogue's buttons: which products the learner holds already.
        catalog_hooks.products_held.register("orders", lambda user, at: selectors.products_held(user, at))
        # The refusal page's 重新购买: only when the product can be bought now.
        learning_hooks.purchase_check.register(
            "orders", lambda user, product, at: services.purchase_check(user=user, product=product, at=at)
        )
