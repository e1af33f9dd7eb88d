"""A URLconf where 'home' is elsewhere (cpe/core/tests/test_url_memo.py)."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("elsewhere/", lambda request: HttpResponse(""), name="home")]
