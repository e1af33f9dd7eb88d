from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "cpe.notices"
    label = "notices"
    verbose_name = "通知与消息"
    # The outbox's part of the account's life is registered by accounts (cpe/accounts/account_life.py):
    # notices sits below accounts.
