from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "cpe.learning"
    label = "learning"
    verbose_name = "学习"

    def ready(self):
        from . import hotpath  # noqa: F401  (registers the sign-in/sign-out hooks that stop players)
