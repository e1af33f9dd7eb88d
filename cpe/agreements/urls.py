from django.urls import path

from . import views

app_name = "agreements"
urlpatterns = [
    path("", views.current, name="current"),
    path("accept/", views.accept, name="accept"),
    path("closed/", views.closed, name="closed"),
    path("v/<str:version>/", views.detail, name="detail"),
]
