"""BanMiddleware as a visitor meets it (rules R12)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from cpe.moderation import selectors, services
from cpe.moderation.middleware import BanMiddleware

pytestmark = pytest.mark.django_db
BANNED_IP = "203.0.113.9"


@pytest.fixture
def operator(staff_with):
    return staff_with()


def test_banned_ip_gets_the_403_page(client, ban_middleware, operator):
    end = timezone.now() + timedelta(days=2)
    services.ban_network(network="203.0.113.0/24", reason="短时间内大量注册", ends_at=end, actor=operator)
    r = client.get("/accounts/login/", REMOTE_ADDR=BANNED_IP)
    assert r.status_code == 403 and r["Cache-Control"] == "no-store"
    page = r.content.decode()
    assert "访问受限" in page and "短时间内大量注册" in page
    assert timezone.localtime(end).strftime("%Y-%m-%d %H:%M") in page and "北京时间" in page
    assert settings.SUPPORT_PHONE in page and settings.SUPPORT_EMAIL in page
    assert (
        client.get("/accounts/login/", REMOTE_ADDR="203.0.114.9").status_code == 200
    )  # next door is not banned


def test_banned_ipv6_gets_json_under_api(client, ban_middleware, operator):
    services.ban_network(network="2001:db8:1::/48", reason="接口滥用", actor=operator)
    r = client.get("/api/learning/whatever", REMOTE_ADDR="2001:db8:1::5")
    assert r.status_code == 403
    assert r.json() == {
        "code": "banned_network",
        "message": "您所在的网络地址已被平台限制访问。",
        "reason": "接口滥用",
        "until": None,
    }


@pytest.mark.parametrize("path", ["/admin/login/", "/static/css/site.css", "/agreement/", "/notices/"])
def test_open_paths_stay_open_to_a_banned_ip(client, ban_middleware, operator, agreement_v1, path):
    services.ban_network(network=BANNED_IP, reason="x", actor=operator)
    assert client.get(path, REMOTE_ADDR=BANNED_IP).status_code != 403


def test_staff_site_works_from_a_banned_ip(client, ban_middleware, operator, staff_with):
    services.ban_network(network=BANNED_IP, reason="x", actor=operator)
    client.force_login(staff_with("moderation.view_ban", username="op2"))
    assert client.get("/admin/moderation/ban/", REMOTE_ADDR=BANNED_IP).status_code == 200


def test_banned_accounts_session_stops_at_its_next_request(
    client, ban_middleware, register_learner, operator
):
    learner = register_learner()
    client.force_login(learner)
    assert client.get("/accounts/dashboard/").status_code in (200, 302)
    services.ban_account(user_id=learner.pk, reason="多人共用账号", actor=operator)
    r = client.get("/accounts/dashboard/")
    assert r.status_code == 403
    page = r.content.decode()
    assert "您的账号已被平台封禁" in page and "多人共用账号" in page and "直至平台解除" in page
    r = client.get("/accounts/dashboard/")  # the session is over: an anonymous visitor now
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_banned_account_cannot_sign_in(client, ban_middleware, register_learner, operator):
    learner = register_learner(password="Zhang-san-2026")
    services.ban_account(user_id=learner.pk, reason="多人共用账号", actor=operator)
    r = client.post("/accounts/login/", {"username": learner.id_number, "password": "Zhang-san-2026"})
    assert r.status_code == 403 and "多人共用账号" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_lifted_account_ban_lets_the_learner_back(client, ban_middleware, register_learner, operator):
    learner = register_learner()
    ban = services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    services.ban_lift(ban_id=ban.pk, actor=operator)
    client.force_login(learner)
    assert client.get("/accounts/dashboard/").status_code != 403


def test_anonymous_requests_never_read_the_user_table(client, ban_middleware, register_learner, operator):
    learner = register_learner()
    services.ban_network(network="198.51.100.0/24", reason="x", actor=operator)
    services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    selectors.any_bans()  # the memo holds both bans
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/", REMOTE_ADDR="192.0.2.1").status_code == 200
    assert not [q["sql"] for q in ctx.captured_queries if "accounts_user" in q["sql"]]


def test_middleware_itself_makes_no_query_within_the_memo(
    rf: RequestFactory, operator, register_learner, django_assert_num_queries
):
    services.ban_network(network="198.51.100.0/24", reason="x", actor=operator)
    services.ban_account(user_id=register_learner().pk, reason="x", actor=operator)
    selectors.any_bans()
    mw = BanMiddleware(lambda request: HttpResponse("ok"))

    def untouchable():  # as AuthenticationMiddleware sets it: a lazy user, which must stay unloaded
        def load():
            raise AssertionError("the user was loaded")

        return SimpleLazyObject(load)

    request = rf.get("/courses/", REMOTE_ADDR="192.0.2.1")
    request.user = untouchable()
    with django_assert_num_queries(0):
        assert mw(request).status_code == 200
    request = rf.get("/api/courses", REMOTE_ADDR="198.51.100.20")  # a banned address: JSON, no page
    request.user = untouchable()
    with django_assert_num_queries(0):
        assert mw(request).status_code == 403
