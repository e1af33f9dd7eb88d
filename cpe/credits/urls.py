from django.urls import path

from . import views

app_name = "credits"
urlpatterns = [
    path("", views.my_credits, name="mine"),
    path("year/<int:year>/", views.year_page, name="year"),
    path("certificate/<str:number>/pdf/", views.certificate_download, name="certificate_pdf"),
    path("verify/<str:number>/", views.verify, name="verify"),
    path("query/", views.public_query, name="query"),
]
