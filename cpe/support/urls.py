from django.urls import path

from . import views

app_name = "support"
urlpatterns = [
    path("", views.faq, name="faq"),
    path("ask/", views.ask, name="ask"),
    path("mine/", views.mine, name="mine"),
    path("t/<int:pk>/", views.thread, name="thread"),
]
