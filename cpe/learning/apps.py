from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "cpe.learning"
    label = "learning"
    verbose_name = "学习"
