from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "cpe.reporting"
    label = "reporting"
    verbose_name = "会计信息系统上报"
