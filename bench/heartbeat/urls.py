from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as platform


def hello(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/hello/", hello), *platform]
