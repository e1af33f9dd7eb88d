from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("buy/<str:code>/", views.buy, name="buy"),
    path("<str:number>/pay/", views.pay, name="pay"),
    path("<str:number>/qr/", views.qr, name="qr"),
    path("<str:number>/status/", views.status, name="status"),
    path("<str:number>/result/", views.result, name="result"),
    path("<str:number>/cancel/", views.cancel, name="cancel"),
    path("<str:number>/refund/", views.refund, name="refund"),
    path("notify/<str:gateway>/", views.notify, name="notify"),
]
