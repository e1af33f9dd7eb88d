"""The embedded sandbox gateway, mounted at /sandbox/ (config/urls.py). The WeChat paths mirror
https://api.mch.weixin.qq.com under /sandbox/wechat, so the SDK's own paths work unchanged."""

from django.urls import path

from . import views

app_name = "sandbox"
urlpatterns = [
    path("", views.index, name="index"),
    path("pay/<str:token>/", views.pay, name="pay"),
    # Alipay: https://openapi.alipay.com/gateway.do
    path("alipay/gateway.do", views.alipay_gateway, name="alipay_gateway"),
    # Aliyun SMS: https://dysmsapi.aliyuncs.com/ (SendSms)
    path("aliyun/sms/", views.aliyun_sms, name="aliyun_sms"),
    # WeChat Pay API v3
    path("wechat/v3/pay/transactions/native", views.wechat_native, name="wechat_native"),
    path("wechat/v3/pay/transactions/h5", views.wechat_h5, name="wechat_h5"),
    path(
        "wechat/v3/pay/transactions/out-trade-no/<str:out_trade_no>", views.wechat_query, name="wechat_query"
    ),
    path("wechat/v3/refund/domestic/refunds", views.wechat_refund, name="wechat_refund"),
]
