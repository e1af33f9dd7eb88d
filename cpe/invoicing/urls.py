from django.urls import path

from . import views

app_name = "invoicing"
urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("request/<str:order_number>/", views.invoice_request_view, name="request"),
    path("<str:number>/pdf/", views.invoice_pdf, name="pdf"),
    path("verify/<str:token>/", views.invoice_verify, name="verify"),
]
