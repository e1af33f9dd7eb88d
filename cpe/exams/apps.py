from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "cpe.exams"
    label = "exams"
    verbose_name = "考试"
