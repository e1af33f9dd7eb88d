from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "cpe.notices"
    label = "notices"
    verbose_name = "通知与消息"
