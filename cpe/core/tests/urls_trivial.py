"""The platform's URLs plus one trivial view, for the signed-in request's own cost."""

from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as platform


def hello(request):
    return JsonResponse({"signed_in": request.user.is_authenticated})


urlpatterns = [path("trivial/", hello), *platform]
