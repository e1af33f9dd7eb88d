from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "cpe.orders"
    label = "orders"
    verbose_name = "订单与支付"

    def ready(self):
        from cpe.notices.selectors import register_bought_year_ids

        from . import account_life
        from .selectors import bought_year_ids

        account_life.register()  # its part of the account's life (cpe.accounts.lifecycle)
        register_bought_year_ids(bought_year_ids)  # notices' announcements to a year's buyers
