from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "cpe.ops"
    verbose_name = "运维"

    def ready(self):
        from . import metrics

        metrics.connect_signals()
