from django.db import models


class BanKind(models.TextChoices):
    ACCOUNT = "account", "账号"
    NETWORK = "network", "IP 地址/地址段"
