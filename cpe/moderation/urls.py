from django.urls import path

from . import views

app_name = "moderation"
urlpatterns = [
    path("personal-data/", views.sanctioned_personal_data, name="personal_data"),
]
