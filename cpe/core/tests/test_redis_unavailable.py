"""A view whose work needs Redis while Redis cannot be reached answers 503 with a Chinese message
and Retry-After, never a 500, and does nothing (cpe/core/middleware.py): the cache (throttles,
sign-in failure counts) pointed at a port where nothing listens."""

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from cpe.accounts.models import User
from cpe.core import redis_wire
from cpe.core.middleware import MESSAGE, RedisUnavailableMiddleware
from cpe.core.tests.ports import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_away(settings):
    port = free_port()
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "cpe.core.cache.ReusingRedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"},
    }
    settings.RATELIMIT_USE_CACHE = "default"


def test_sign_in_while_redis_is_away_is_refused_with_503_not_500(redis_away):
    c = Client(raise_request_exception=False)
    assert c.get("/").status_code == 200  # a page that needs no Redis still works
    r = c.post(reverse("accounts:login"), {"username": "13800000009", "password": "wrong-password-1"})
    assert r.status_code == 503 and r["Retry-After"] == str(redis_wire.RETRY_AFTER_SECONDS)
    assert "服务暂时繁忙" in r.content.decode() and "本次操作未执行" in r.content.decode()
    assert "sessionid" not in r.cookies


def test_registration_while_redis_is_away_creates_nothing(redis_away):
    c = Client(raise_request_exception=False)
    r = c.post(reverse("accounts:register"), {"name": "张三", "mobile": "13800000010"})
    assert r.status_code == 503 and not User.objects.exists()


def test_the_api_gets_json_and_other_errors_are_not_hidden():
    mw = RedisUnavailableMiddleware(lambda request: None)
    rf = RequestFactory()
    api = mw.process_exception(rf.post("/api/learning/sessions/start"), redis_wire.Unavailable("down"))
    assert api.status_code == 503 and api["Content-Type"] == "application/json"
    assert json.loads(api.content) == {"code": "unavailable", "message": MESSAGE} and api["Retry-After"]
    request = rf.post("/accounts/login/")
    request.htmx = True
    part = mw.process_exception(request, ConnectionRefusedError())
    assert part is None  # only Redis being away is answered here; anything else stays a 500
