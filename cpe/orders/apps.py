from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "cpe.orders"
    label = "orders"
    verbose_name = "订单与支付"

    def ready(self):
        from . import account_life

        account_life.register()   # its part of the account's life (cpe.accounts.lifecycle)
