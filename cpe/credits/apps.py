from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "cpe.credits"
    label = "credits"
    verbose_name = "学时与证书"
