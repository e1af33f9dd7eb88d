from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "cpe.catalog"
    label = "catalog"
    verbose_name = "课程目录"
