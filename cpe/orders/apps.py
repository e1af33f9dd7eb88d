from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "cpe.orders"
    label = "orders"
    verbose_name = "订单与支付"
