from django.urls import path

from . import views

app_name = "reporting"
urlpatterns = [
    path("recheck/", views.recheck, name="recheck"),
]
