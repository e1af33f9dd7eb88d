"""What every signed-in request costs before its page's own work, and that what is memoised per
process to keep it cheap still takes effect at once: a ban, a new agreement version, a
maintenance window, a closed account.

The signed-in trivial request reads the session and the user, nothing else (both from Redis once
the user's row is cached: no statement at all; cpe.accounts.user_rows): no agreement query
(the versions are memoised per process), no ban or maintenance query (memoised likewise), and
no session write when nothing changed. The session is read from the session cache (Redis) in
front of the database (decision 0018); the database only on a miss or while the cache is away."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cpe.core.tests.urls_trivial")]
PW = "Zhang-san-2026"


@pytest.fixture
def signed_in(client, register_learner):
    learner = register_learner()
    from django.urls import reverse

    assert (
        client.post(reverse("accounts:login"), {"username": learner.mobile, "password": PW}).status_code
        == 302
    )
    first = client.get("/trivial/")  # the gate remembers the accepted version in the session (one write)
    assert first.status_code == 200 and first.json() == {"signed_in": True}
    return client, learner


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user(
        username="op", password="Staff-pass-2026", is_staff=True, name="运营"
    )


def _queries(client, url="/trivial/"):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    return resp, [q["sql"] for q in ctx.captured_queries]


def test_signed_in_trivial_request_reads_the_session_and_the_user_only(signed_in):
    client, learner = signed_in
    # With the session cache (Redis) the session copy and the user's row come from it, in one
    # round trip (decision 0018, cpe.accounts.user_rows): no statement at all once the row is
    # cached. Without one (the embedded default) both come from the database.
    cached = bool(settings.SESSION_CACHE_ALIAS)
    client.get("/trivial/")  # the row is put into the cache by the first read after the sign-in's writes
    for _ in range(3):  # the same every time: nothing is written, nothing else is read
        resp, sql = _queries(client)
        assert resp.status_code == 200 and resp.json() == {"signed_in": True}
        assert len(sql) == (0 if cached else 2), sql
        user_reads = [s for s in sql if "accounts_user" in s]
        assert len(user_reads) == (0 if cached else 1), sql
        assert all(s.lstrip().upper().startswith("SELECT") for s in sql), (
            sql
        )  # no session or last-login write
        assert settings.SESSION_COOKIE_NAME not in resp.cookies  # the session was not saved again
        assert "Set-Cookie" not in resp.headers or "sessionid" not in resp.headers["Set-Cookie"]


def test_anonymous_trivial_request_makes_no_query(client, agreement_v1):
    resp, sql = _queries(client)
    assert resp.status_code == 200 and resp.json() == {"signed_in": False}
    assert sql == []


def test_the_user_read_gives_the_instance_the_orm_gives(register_learner):
    from cpe.accounts.auth import IdentifierBackend
    from cpe.accounts.models import User

    learner = register_learner()
    fast = IdentifierBackend().get_user(learner.pk)
    slow = User.objects.get(pk=learner.pk)
    for f in User._meta.concrete_fields:
        assert getattr(fast, f.attname) == getattr(slow, f.attname), f.name
    assert fast.mobile == learner.mobile and fast.id_number == learner.id_number  # decrypted as the ORM does
    assert fast._state.adding is False and fast._state.db == "default"
    assert IdentifierBackend().get_user(learner.pk + 10_000) is None
    User.objects.filter(pk=learner.pk).update(is_active=False)
    assert IdentifierBackend().get_user(learner.pk) is None  # an inactive account is nobody, as in Django


def test_an_account_ban_ends_the_session_at_the_next_request(signed_in, operator):
    from cpe.moderation.services import ban_account

    client, learner = signed_in
    ban_account(user_id=learner.pk, reason="转借账号", actor=operator)
    resp = client.get("/trivial/")
    assert resp.status_code == 403 and "封禁" in resp.content.decode()
    assert client.get("/trivial/").json() == {"signed_in": False}  # signed out


def test_a_network_ban_applies_at_the_next_request(signed_in, operator):
    from cpe.moderation.services import ban_network

    client, _ = signed_in
    ban_network(network="127.0.0.0/24", reason="攻击", actor=operator)
    assert client.get("/trivial/").status_code == 403


def test_a_new_agreement_version_is_required_at_the_next_request(signed_in):
    from cpe.agreements.services import agreement_publish

    client, _ = signed_in
    now = timezone.now()
    agreement_publish(
        version="2.0",
        title="用户服务协议与隐私政策",
        body="第一条 新版协议正文。",
        is_minor=False,
        effective_at=now - timedelta(seconds=1),
        at=now,
    )
    resp = client.get("/trivial/")
    assert resp.status_code == 302 and resp["Location"].startswith("/agreement/")


def test_a_version_published_ahead_is_required_from_its_effective_instant(signed_in):
    import time_machine

    from cpe.agreements.services import agreement_publish

    client, _ = signed_in
    now = timezone.now()
    agreement_publish(
        version="2.0",
        title="用户服务协议与隐私政策",
        body="第一条 新版协议正文。",
        is_minor=False,
        effective_at=now + timedelta(hours=1),
        at=now,
    )
    assert client.get("/trivial/").status_code == 200  # memoised now, not yet in force
    with time_machine.travel(now + timedelta(hours=1, seconds=1), tick=False):
        resp = client.get("/trivial/")
    assert resp.status_code == 302 and resp["Location"].startswith("/agreement/")


def test_a_minor_edit_needs_no_new_acceptance(signed_in):
    from cpe.agreements.services import agreement_publish

    client, _ = signed_in
    agreement_publish(
        version="1.1",
        title="用户服务协议与隐私政策",
        body="第一条 测试协议正文（勘误）。",
        is_minor=True,
        effective_at=timezone.now() - timedelta(seconds=1),
    )
    assert client.get("/trivial/").status_code == 200


def test_a_maintenance_window_applies_at_the_next_request(signed_in):
    from cpe.notices.models import Announcement

    client, _ = signed_in
    now = timezone.now()
    Announcement.objects.create(
        kind="maintenance",
        title="系统维护公告",
        body="维护",
        published_at=now - timedelta(days=1),
        maintenance_start=now - timedelta(seconds=1),
        maintenance_end=now + timedelta(hours=1),
    )
    assert client.get("/trivial/").status_code == 503


def test_closing_the_account_ends_the_session_at_the_next_request(signed_in):
    from cpe.accounts import closing
    from cpe.accounts.models import User

    client, learner = signed_in
    closing.account_close(user=User.objects.get(pk=learner.pk), password=PW, confirmed=True)
    assert client.get("/trivial/").json() == {"signed_in": False}


def test_a_memo_forgets_a_change_again_when_its_transaction_commits(
    agreement_v1, django_capture_on_commit_callbacks
):
    """Another thread may re-read the table between the save and the commit; the commit forgets
    what it memoised then."""
    from django.db import transaction

    from cpe.agreements import selectors
    from cpe.agreements.models import AgreementVersion

    now = timezone.now()
    assert selectors.required_major_id(now) == agreement_v1.pk
    with django_capture_on_commit_callbacks(execute=True):  # runs what the commit runs
        with transaction.atomic():
            v2 = AgreementVersion.objects.create(
                version="2.0",
                body="新版",
                text_hash="x",
                published_at=now,
                effective_at=now - timedelta(seconds=1),
            )
            # What a reader in another thread saw before the commit (without the new version):
            selectors._versions_memo.known([f for f in selectors._load_versions() if f.id != v2.pk])
            assert selectors.required_major_id(now) == agreement_v1.pk
    assert selectors.required_major_id(now) == v2.pk


def test_request_user_is_one_lazy_object_over_the_user_with_django_otps_fields_then_the_user(
    rf, register_learner
):
    from django.utils.functional import SimpleLazyObject

    from cpe.accounts.middleware import OTPMiddleware

    learner = register_learner()
    request = rf.get("/trivial/")
    request.session = {}
    request.user = SimpleLazyObject(lambda: learner)  # as AuthenticationMiddleware sets it
    seen = []
    OTPMiddleware(lambda r: seen.append(r.user) or None)(request)
    user = seen[0]
    assert user.pk == learner.pk and user.is_verified() is False and user.otp_device is None
    assert isinstance(user, SimpleLazyObject) and type(user._wrapped) is type(learner)
    assert request.user is user._wrapped  # once read, the request holds the user itself


def test_a_user_read_late_does_not_undo_a_sign_in_made_before(rf, register_learner):
    """The lazy user first read after login() replaced request.user (by code that held it from
    before) must not put itself back: request.user stays the one signed in."""
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import SimpleLazyObject

    from cpe.accounts.middleware import OTPMiddleware

    learner = register_learner()
    request = rf.get("/trivial/")
    request.session = {}
    request.user = SimpleLazyObject(AnonymousUser)  # as AuthenticationMiddleware sets it

    def view(r):
        held = r.user  # kept, not read yet
        r.user = learner  # what login() does
        assert held.is_authenticated is False  # read now: still the anonymous user it was
        return r.user

    assert OTPMiddleware(view)(request) is learner
    assert request.user is learner
