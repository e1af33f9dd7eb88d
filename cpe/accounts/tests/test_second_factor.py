"""The staff second factor: the gate in front of the staff site, enrolment, verification, the
throttle, recovery codes, the superuser's reset, and what is stored."""

import base64
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpe.accounts import policy, second_factor
from cpe.accounts.errors import AccountError
from cpe.accounts.models import StaffRecoveryCode, StaffSecondFactor
from cpe.core.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "Staff-pass-2026-long"


@pytest.fixture
def staff(django_user_model):
    def make(username="op-2fa", **extra):
        return django_user_model.objects.create_user(username, PASSWORD, name="运营", is_staff=True, **extra)

    return make


def _enrolled(user, at=None):
    """A confirmed factor through the real enrolment; returns (factor, recovery codes)."""
    at = at or timezone.now()
    factor = second_factor.enrol_start(user=user, at=at)
    return second_factor.enrol_confirm(user=user, code=second_factor.current_code(factor, at), at=at)


def _bare_client(user):
    """Signed in with the password only (the second factor not yet passed)."""
    client = Client()
    r = client.post(reverse("admin:login"), {"username": user.username, "password": PASSWORD})
    assert r.status_code == 302
    return client


# --- policy ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "failures, seconds_since, waits",
    [
        (0, 0, False),
        (4, 0, False),
        (5, 0, True),
        (5, 59, True),
        (5, 60, False),
        (6, 119, True),
        (6, 120, False),
        (40, 23 * 3600, True),
        (40, 24 * 3600, False),
    ],
)
def test_wrong_codes_wait_after_the_free_ones(failures, seconds_since, waits):
    last = timezone.now()
    until = policy.second_factor_wait(
        failures=failures, last_failure_at=last, at=last + timedelta(seconds=seconds_since)
    )
    assert (until is not None) == waits


@pytest.mark.parametrize(
    "raw, kind",
    [
        ("123456", "totp"),
        (" 123 456 ", "totp"),
        ("１２３４５６", "totp"),
        ("12345", ""),
        ("1234567", ""),
        ("abcde-fghjk", "recovery"),
        ("ABCDEFGHJK", "recovery"),
        ("ABCDE-FGHJ0", ""),
        ("", ""),
        ("' OR 1=1", ""),
    ],
)
def test_code_kinds(raw, kind):
    assert policy.second_factor_code_kind(raw)[0] == kind


# --- the gate ----------------------------------------------------------------------------------
def _staff_paths():
    """Every staff-only URL of the access matrix, with made-up arguments (the gate answers
    before any view looks at them)."""
    from cpe.core.tests.test_access_matrix import (
        ANY_STAFF,
        TABLE,
        admin_model_routes,
        admin_rule,
        get_resolver,
        walk,
    )

    admin_routes = admin_model_routes()
    paths = []
    for route, _pattern in walk(get_resolver()):
        if route in admin_routes:
            rule = admin_rule(*admin_routes[route])
        else:
            rule = TABLE.get(route)
        if not (rule == ANY_STAFF or isinstance(rule, tuple) and rule[0] == "perm"):
            continue
        if "(?P<app_label>" in route:
            route = "admin/accounts/"
        paths.append("/" + re.sub(r"<(?:\w+:)?\w+>", "1", route))
    # The API's docs: public in the test settings, staff-only in production; and the admin's catch-all.
    return paths + ["/api/docs", "/admin/nothing-here/"]


@pytest.mark.staff_unverified
def test_unverified_staff_are_sent_to_the_second_factor_from_every_staff_url(staff, django_user_model):
    enrolled = staff("enrolled")
    _enrolled(enrolled)
    fresh = django_user_model.objects.create_superuser("root-2fa", PASSWORD)
    paths = _staff_paths()
    assert len(paths) > 100 and "/admin/" in paths and "/reporting/staff/exports/" in paths
    for user, target in ((enrolled, "/accounts/2fa/"), (fresh, "/accounts/2fa/setup/")):
        client = Client()
        client.force_login(user)
        for path in paths:
            for method in (client.get, client.post):
                r = method(path)
                if path.startswith("/api/"):  # the API answers in JSON
                    assert r.status_code == 401 and r.json()["code"] == "second_factor_required"
                    continue
                assert r.status_code == 302, (user, method, path, r.status_code)
                assert r["Location"].split("?")[0] == target, (path, r["Location"])
    # The API and htmx get a JSON refusal, not a page.
    r = client.post("/api/learning/sessions", content_type="application/json", data="{}")
    assert r.status_code == 401 and r.json()["code"] == "second_factor_required"


@pytest.mark.staff_unverified
def test_the_test_helper_itself_is_off_for_unverified_tests(staff):
    client = Client()
    client.force_login(staff())
    assert client.get("/admin/").status_code == 302


def test_staff_signed_in_by_the_test_helper_reach_the_admin(staff):
    client = Client()
    client.force_login(staff())
    assert client.get("/admin/").status_code == 200


def test_learners_are_never_asked(verified_learner):
    client = Client()
    client.force_login(verified_learner)
    assert client.get(reverse("accounts:dashboard")).status_code == 200
    r = client.get(reverse("accounts:second_factor"))
    assert r.status_code == 302 and r["Location"] == reverse("accounts:dashboard")
    assert client.get(reverse("accounts:second_factor_setup"))["Location"] == reverse("accounts:dashboard")
    assert not StaffSecondFactor.objects.exists()
    # Anonymous visitors: the public pages as before, the 2FA pages send them to sign in.
    anon = Client()
    assert anon.get("/").status_code == 200
    assert anon.get(reverse("accounts:second_factor"))["Location"] == reverse("accounts:login")


# --- enrolment ---------------------------------------------------------------------------------
@pytest.mark.staff_unverified
def test_enrolment_at_first_sign_in_shows_the_key_once_confirmed_gives_ten_recovery_codes(staff):
    user = staff()
    client = _bare_client(user)
    r = client.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0].startswith(reverse("accounts:second_factor_setup"))
    page = r.content.decode()
    factor = StaffSecondFactor.objects.get(user=user)
    assert not factor.confirmed and "<svg" in page and second_factor.key_text(factor) in page
    # The same key on a reload (an app that scanned it keeps working).
    again = client.get(reverse("accounts:second_factor_setup")).content.decode()
    assert second_factor.key_text(factor) in again
    # A wrong code: refused, not enrolled, still shut out.
    r = client.post(reverse("accounts:second_factor_setup"), {"code": _wrong(factor)})
    assert r.status_code == 200 and policy.SECOND_FACTOR_WRONG_MESSAGE in r.content.decode()
    assert not StaffSecondFactor.objects.get(user=user).confirmed
    assert client.get("/admin/").status_code == 302
    # A recovery-shaped code cannot confirm a key.
    r = client.post(reverse("accounts:second_factor_setup"), {"code": "ABCDE-FGHJK"})
    assert policy.SECOND_FACTOR_SHAPE_MESSAGE in r.content.decode()
    r = client.post(
        reverse("accounts:second_factor_setup"),
        {"code": second_factor.current_code(factor), "next": "/admin/accounts/"},
    )
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    codes = re.findall(r"<code>([2-9A-Z]{5}-[2-9A-Z]{5})</code>", r.content.decode())
    stored = StaffRecoveryCode.objects.filter(factor=factor).count()
    assert len(set(codes)) == policy.RECOVERY_CODE_COUNT == stored
    assert 'href="/admin/accounts/"' in r.content.decode()
    assert client.get("/admin/").status_code == 200
    # Shown once: the setup page now sends to verification, and no page shows them again.
    setup = client.get(reverse("accounts:second_factor_setup"))
    assert setup["Location"] == reverse("accounts:second_factor")
    assert not any(c in client.get(reverse("accounts:recovery_codes")).content.decode() for c in codes)
    event = AuditEvent.objects.get(event_type="staff.second_factor_enrolled")
    assert event.subject_id == str(user.pk) and event.actor_id == user.pk
    assert not any(c.replace("-", "") in str(event.data) for c in codes)


def _wrong(factor, at=None):
    right = second_factor.current_code(factor, at)
    return "000000" if right != "000000" else "111111"


def test_the_key_and_the_recovery_codes_are_not_stored_in_clear(staff):
    user = staff()
    factor, codes = _enrolled(user)
    raw_key = factor.key
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM accounts_staffsecondfactor")
        factor_rows = repr(cur.fetchall())
        cur.execute("SELECT * FROM accounts_staffrecoverycode")
        code_rows = repr(cur.fetchall())
    key_hex = base64.b32decode(raw_key).hex()
    assert raw_key not in factor_rows and key_hex not in factor_rows and key_hex.upper() not in factor_rows
    assert base64.b64encode(base64.b32decode(raw_key)).decode() not in factor_rows
    for code in codes:
        assert code not in code_rows and code.replace("-", "") not in code_rows
    assert len(base64.b32decode(StaffSecondFactor.objects.get(pk=factor.pk).key)) == policy.TOTP_KEY_BYTES


# --- verification ------------------------------------------------------------------------------
def test_a_wrong_code_is_refused_and_counted_per_account_then_throttled(staff):
    user = staff()
    at = timezone.now()
    factor, _ = _enrolled(user, at=at - timedelta(minutes=5))
    for _ in range(policy.SECOND_FACTOR_FREE_FAILURES):
        with pytest.raises(AccountError) as exc:
            second_factor.verify(user=user, code=_wrong(factor, at), at=at)
        assert exc.value.code == "wrong_code"
    before = StaffSecondFactor.objects.get(pk=factor.pk)
    assert before.failures == policy.SECOND_FACTOR_FREE_FAILURES
    # Now even the right code waits: refused without being checked, and nothing changes.
    right = second_factor.current_code(factor, at + timedelta(seconds=30))
    with pytest.raises(AccountError) as exc:
        second_factor.verify(user=user, code=right, at=at + timedelta(seconds=30))
    assert exc.value.code == "throttled" and "后再试" in exc.value.message
    after = StaffSecondFactor.objects.get(pk=factor.pk)
    assert (after.failures, after.last_failure_at, after.last_step, after.last_used_at) == (
        before.failures,
        before.last_failure_at,
        before.last_step,
        before.last_used_at,
    )
    # After the wait the right code passes and the count starts again.
    later = at + policy.SECOND_FACTOR_FIRST_WAIT + timedelta(seconds=1)
    second_factor.verify(user=user, code=second_factor.current_code(factor, later), at=later)
    assert StaffSecondFactor.objects.get(pk=factor.pk).failures == 0


@pytest.mark.staff_unverified
def test_the_verification_page_refuses_a_wrong_code_and_a_replayed_one(staff):
    user = staff()
    factor, _ = _enrolled(user, at=timezone.now() - timedelta(minutes=2))
    client = _bare_client(user)
    r = client.post(reverse("accounts:second_factor"), {"code": _wrong(factor)})
    assert r.status_code == 200 and policy.SECOND_FACTOR_WRONG_MESSAGE in r.content.decode()
    assert client.get("/admin/").status_code == 302
    code = second_factor.current_code(StaffSecondFactor.objects.get(pk=factor.pk))
    r = client.post(reverse("accounts:second_factor") + "?next=/admin/accounts/user/", {"code": code})
    assert r.status_code == 302 and r["Location"] == "/admin/accounts/user/"
    assert client.get("/admin/").status_code == 200
    # The same code in another browser (a code seen over a shoulder): refused.
    other = _bare_client(user)  # signing in again ends the first session (one session per account)
    r = other.post(reverse("accounts:second_factor"), {"code": code})
    assert policy.SECOND_FACTOR_WRONG_MESSAGE in r.content.decode()
    assert other.get("/admin/").status_code == 302
    # An outside address as "next" is not followed.
    r = other.post(
        reverse("accounts:second_factor") + "?next=https://evil.example/",
        {"code": second_factor.current_code(StaffSecondFactor.objects.get(pk=factor.pk))},
    )
    assert r["Location"] == "/admin/"


@pytest.mark.staff_unverified
def test_a_recovery_code_works_once_and_is_audited(staff):
    user = staff()
    factor, codes = _enrolled(user)
    client = _bare_client(user)
    r = client.post(reverse("accounts:second_factor"), {"code": codes[0].lower()}, follow=True)
    assert r.redirect_chain[-1][0] == "/admin/" and r.status_code == 200
    assert "还剩 9 个" in r.content.decode()
    event = AuditEvent.objects.get(event_type="staff.recovery_code_used")
    assert event.subject_id == str(user.pk) and event.data == {"left": 9}
    client.post(reverse("accounts:logout"))
    again = _bare_client(user)
    r = again.post(reverse("accounts:second_factor"), {"code": codes[0]})
    assert policy.SECOND_FACTOR_WRONG_MESSAGE in r.content.decode()
    assert again.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(event_type="staff.recovery_code_used").count() == 1
    # Another account's code is no use either (hashes are per account).
    other = staff("op-other")
    _, other_codes = _enrolled(other)
    with pytest.raises(AccountError):
        second_factor.verify(user=user, code=other_codes[0])


def test_new_recovery_codes_replace_the_old_ones(staff):
    user = staff()
    client = Client()
    client.force_login(user)  # verified by the test helper
    factor = StaffSecondFactor.objects.get(user=user)
    first = second_factor.recovery_codes_renew(user=user)
    r = client.post(reverse("accounts:recovery_codes"))
    new = re.findall(r"<code>([2-9A-Z]{5}-[2-9A-Z]{5})</code>", r.content.decode())
    assert len(new) == policy.RECOVERY_CODE_COUNT and not set(new) & set(first)
    with pytest.raises(AccountError):
        second_factor.verify(user=user, code=first[0])
    second_factor.verify(user=user, code=new[0])
    assert factor.recovery_codes.filter(used_at__isnull=True).count() == policy.RECOVERY_CODE_COUNT - 1


# --- the superuser's reset -----------------------------------------------------------------------
def test_a_superuser_resets_another_staff_members_factor_and_it_is_audited(staff, django_user_model):
    root = django_user_model.objects.create_superuser("root-reset", PASSWORD)
    user = staff()
    _enrolled(user)
    victim = Client()
    victim.force_login(user)
    assert victim.get("/admin/").status_code == 200
    admin_client = Client()
    admin_client.force_login(root)
    r = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [user.pk]},
        follow=True,
    )
    assert "已重置 1 个" in r.content.decode()
    assert not StaffSecondFactor.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(event_type="staff.second_factor_reset")
    assert event.actor_id == root.pk and event.subject_id == str(user.pk)
    # Their open session lost its verification at once: next stop, enrolment.
    r = victim.get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("accounts:second_factor_setup"))


def test_only_a_superuser_resets_and_never_their_own(staff, django_user_model):
    root = django_user_model.objects.create_superuser("root-self", PASSWORD)
    _enrolled(root)
    operator = staff("op-reset")
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    target = staff("op-target")
    _enrolled(target)
    with pytest.raises(AccountError) as exc:
        second_factor.reset(actor=operator, user=target)
    assert exc.value.code == "not_superuser"
    with pytest.raises(AccountError) as exc:
        second_factor.reset(actor=root, user=root)
    assert exc.value.code == "self"
    # The admin does not even offer the action to a non-superuser.
    client = Client()
    client.force_login(operator)
    r = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [target.pk]},
    )
    assert StaffSecondFactor.objects.filter(user=target, confirmed=True).exists()
    assert StaffSecondFactor.objects.filter(user=root, confirmed=True).exists()
    assert not AuditEvent.objects.filter(event_type="staff.second_factor_reset").exists()
    assert r.status_code in (200, 302, 403)
