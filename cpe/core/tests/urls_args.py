"""Routes with arguments for the url memo's patterns (cpe/core/tests/test_url_memo.py)."""

from django.http import HttpResponse
from django.urls import path, re_path


def _view(request, **kwargs):
    return HttpResponse("")


urlpatterns = [
    path("two/<int:a>/and/<int:b>/", _view, name="two"),
    re_path(r"^year/(?P<y>[0-9]{4})/$", _view, name="four_digits"),  # not every number
    path("v1/item/<int:pk>/", _view, name="digit_in_path"),  # a sentinel's digit in the route
    path("name/<str:s>/", _view, name="text"),
]
