"""The learner account pages against an attacker: 修改密码, e-mail verification throttles and the
per-account sign-in captcha across addresses (docs/security.md, "账号安全")."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from cpe.accounts import policy, services
from cpe.accounts.models import User
from cpe.accounts.tests.factories import make_id_number
from cpe.core.models import AuditEvent
from cpe.notices.models import Channel, OutboundMessage

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"
NEW_PASSWORD = "Li-si-new-2027"


def _signed_in(user, password=PASSWORD, **kw):
    c = Client(**kw)
    r = c.post(reverse("accounts:login"), {"username": user.id_number, "password": password})
    assert r.status_code == 302
    return c


def _change(c, current=PASSWORD, new=NEW_PASSWORD, again=None):
    return c.post(
        reverse("accounts:password_change"),
        {"current_password": current, "new_password": new, "new_password2": again or new},
    )


# --- 1. 修改密码 --------------------------------------------------------------------------------
def test_profile_links_to_password_change(register_learner):
    c = _signed_in(register_learner())
    assert reverse("accounts:password_change") in c.get(reverse("accounts:profile")).content.decode()
    assert "当前密码" in c.get(reverse("accounts:password_change")).content.decode()


def test_password_change_keeps_this_browser_signs_out_a_copy_of_the_session(register_learner, monkeypatch):
    user = register_learner()
    c = _signed_in(user)
    stolen = Client()
    stolen.cookies["sessionid"] = c.cookies["sessionid"].value  # a copied session cookie
    assert stolen.get(reverse("accounts:dashboard")).status_code == 200
    revoked = []
    monkeypatch.setattr("cpe.learning.services.play_sessions_revoke", lambda **kw: revoked.append(kw) or 0)
    old_key = c.cookies["sessionid"].value

    r = _change(c)
    assert r.status_code == 302 and r.url == reverse("accounts:profile")
    assert c.cookies["sessionid"].value != old_key  # the key was rotated
    assert c.get(reverse("accounts:dashboard")).status_code == 200  # this browser stays in
    r = stolen.get(reverse("accounts:dashboard"))
    assert r.status_code == 302 and "login" in r.url  # the other one is out
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    assert [kw["user_id"] for kw in revoked] == [user.pk]  # play tokens revoked
    event = AuditEvent.objects.get(event_type="account.password_changed")
    assert PASSWORD not in str(event.data) and NEW_PASSWORD not in str(event.data)
    # The new password signs in; the old one does not.
    assert (
        Client()
        .post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
        .status_code
        == 400
    )
    _signed_in(user, NEW_PASSWORD)


def test_password_change_queues_an_sms_notice_without_the_password(register_learner):
    user = register_learner()
    c = _signed_in(user)
    _change(c)
    sms = OutboundMessage.objects.get(event="account.password_changed")
    assert sms.channel == Channel.SMS and sms.to == user.mobile
    assert "您的密码已修改" in sms.body and "若非本人操作请联系客服" in sms.body
    for m in OutboundMessage.objects.all():
        assert PASSWORD not in m.body + m.params and NEW_PASSWORD not in m.body + m.params


def test_wrong_current_password_changes_nothing(register_learner):
    user = register_learner()
    c = _signed_in(user)
    before = User.objects.get(pk=user.pk)
    key = c.cookies["sessionid"].value
    r = _change(c, current="Not-my-pass-1")
    assert r.status_code == 400 and policy.WRONG_CURRENT_PASSWORD_MESSAGE in r.content.decode()
    after = User.objects.get(pk=user.pk)
    assert (after.password, after.session_key_hash) == (before.password, before.session_key_hash)
    assert c.cookies["sessionid"].value == key
    assert not OutboundMessage.objects.filter(event="account.password_changed").exists()
    assert not AuditEvent.objects.filter(event_type="account.password_changed").exists()
    assert c.get(reverse("accounts:dashboard")).status_code == 200


def test_password_change_uses_the_validators_and_the_confirmation(register_learner):
    user = register_learner()
    c = _signed_in(user)
    before = User.objects.get(pk=user.pk).password
    assert "不一致" in _change(c, again="Something-else-9").content.decode()
    assert _change(c, new="12345678").status_code == 400
    assert policy.SAME_PASSWORD_MESSAGE in _change(c, new=PASSWORD).content.decode()
    assert User.objects.get(pk=user.pk).password == before


def test_password_change_attempts_are_throttled_per_account(register_learner):
    user = register_learner()
    c = _signed_in(user)
    limit = int(policy.PASSWORD_CHANGE_RATE_PER_USER.split("/")[0])
    for _ in range(limit):
        assert _change(c, current="Not-my-pass-1").status_code == 400
    # Even the right current password is refused now, and nothing changes.
    before = User.objects.get(pk=user.pk).password
    assert _change(c).status_code == 429
    assert User.objects.get(pk=user.pk).password == before


# --- 2. e-mail verification links -------------------------------------------------------------
def _email(c, address):
    return c.post(reverse("accounts:email_change"), {"email": address})


def _links_sent(user):
    return OutboundMessage.objects.filter(event="email.verify", user=user).count()


def test_email_links_are_bounded_per_account_across_addresses(register_learner):
    user = register_learner()
    c = _signed_in(user)
    sent_before = _links_sent(user)  # the registration's own link
    allowed = policy.EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR - sent_before
    for i in range(allowed):
        assert _email(c, f"new{i}@example.com").status_code == 302
    r = _email(c, "victim@example.com")
    assert r.status_code == 200 and policy.EMAIL_VERIFY_THROTTLED_MESSAGE in r.content.decode()
    assert _links_sent(user) == policy.EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR
    assert not any(m.to == "victim@example.com" for m in OutboundMessage.objects.all())


def test_email_links_are_bounded_per_ip(register_learner):
    limit = int(policy.EMAIL_VERIFY_RATE_PER_IP.split("/")[0])
    per_account = policy.EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR - 1  # the registration sent one
    users = [register_learner() for _ in range(limit // per_account + 2)]
    sent = 0
    for n, user in enumerate(users):
        c = _signed_in(user, REMOTE_ADDR="10.9.9.9")
        for i in range(per_account):
            r = _email(c, f"u{n}-{i}@example.com")
            if r.status_code == 429:
                assert policy.EMAIL_VERIFY_THROTTLED_MESSAGE in r.content.decode()
                assert not any(m.to == f"u{n}-{i}@example.com" for m in OutboundMessage.objects.all())
                assert sent == limit
                return
            sent += 1
    pytest.fail("the per-IP throttle never answered")


def test_email_send_decision_policy():
    from datetime import datetime, timedelta
    from datetime import timezone as tz

    at = datetime(2030, 5, 1, 12, tzinfo=tz.utc)
    hour = [at - timedelta(minutes=m) for m in range(policy.EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR)]
    assert not policy.email_verification_send_decision(hour, at).allowed
    assert policy.email_verification_send_decision([t - timedelta(hours=1) for t in hour], at).allowed
    day = [at - timedelta(hours=2 + h) for h in range(policy.EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_DAY)]
    assert not policy.email_verification_send_decision(day, at).allowed


# --- 3. per-account captcha across addresses ----------------------------------------------------
def _spray(identifier, times, password="wrong-pass-1"):
    """Failures for one identifier, each from a new address (axes never locks a pair)."""
    r = None
    for i in range(times):
        r = Client(REMOTE_ADDR=f"10.7.{i // 200}.{i % 200 + 1}").post(
            reverse("accounts:login"), {"username": identifier, "password": password}
        )
    return r


def _captcha_answer(client):
    from cpe.accounts.views import LOGIN_CAPTCHA_SESSION_KEY

    return str(client.session[LOGIN_CAPTCHA_SESSION_KEY])


def test_nth_failure_from_rotating_addresses_requires_a_captcha(register_learner):
    user = register_learner()
    n = policy.LOGIN_CAPTCHA_AFTER_FAILURES
    r = _spray(user.id_number, n - 1)
    assert "captcha-q" not in r.content.decode()
    r = _spray(user.id_number, 1)
    assert "captcha-q" in r.content.decode()
    # From yet another address, the right password alone is refused before it is checked.
    c = Client(REMOTE_ADDR="10.8.0.1")
    r = c.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    assert r.status_code == 400 and policy.LOGIN_CAPTCHA_MESSAGE in r.content.decode()
    assert "_auth_user_id" not in c.session
    # The mobile is the same account but another identifier: counted on its own.
    assert services.login_failures(user.id_number.lower()) == n
    # The counter lives in the cache under a keyed hash, never the identifier.
    assert services.login_failures(user.id_number) == n
    cache.clear()
    assert services.login_failures(user.id_number) == 0


def test_a_right_captcha_and_password_still_sign_in(register_learner):
    user = register_learner()
    _spray(user.id_number, policy.LOGIN_CAPTCHA_AFTER_FAILURES + 5)
    c = Client(REMOTE_ADDR="10.8.0.2")
    c.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    # A wrong answer: refused, the password not checked (no failure counted for it).
    before = services.login_failures(user.id_number)
    wrong = str(int(_captcha_answer(c)) + 1)
    r = c.post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD, "captcha": wrong}
    )
    assert r.status_code == 400 and policy.LOGIN_CAPTCHA_WRONG_MESSAGE in r.content.decode()
    assert services.login_failures(user.id_number) == before
    r = c.post(
        reverse("accounts:login"),
        {"username": user.id_number, "password": PASSWORD, "captcha": _captcha_answer(c)},
    )
    assert r.status_code == 302 and r.url == reverse("accounts:dashboard")
    assert c.get(reverse("accounts:dashboard")).status_code == 200


def test_a_right_captcha_with_a_wrong_password_is_still_a_failure(register_learner):
    user = register_learner()
    _spray(user.id_number, policy.LOGIN_CAPTCHA_AFTER_FAILURES)
    c = Client(REMOTE_ADDR="10.8.0.3")
    c.post(reverse("accounts:login"), {"username": user.id_number, "password": "x-wrong-1"})
    r = c.post(
        reverse("accounts:login"),
        {"username": user.id_number, "password": "x-wrong-2", "captcha": _captcha_answer(c)},
    )
    assert r.status_code == 400 and "密码不正确" in r.content.decode() and "captcha-q" in r.content.decode()
    assert "_auth_user_id" not in c.session


def _page_shape(html: str) -> str:
    import re

    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    html = re.sub(r'value="[^"]*"', "", html)
    return re.sub(r"请计算 [^<]*", "", html)  # the random question


def test_an_unknown_identifier_behaves_the_same(register_learner):
    user = register_learner()
    unknown = make_id_number(seq="987")
    assert not User.objects.filter(id_number_bidx=user.id_number_bidx).exclude(pk=user.pk).exists()
    n = policy.LOGIN_CAPTCHA_AFTER_FAILURES
    pages = []
    for ident in (user.id_number, unknown):
        before = _spray(ident, n - 1)
        after = _spray(ident, 1)
        assert "captcha-q" not in before.content.decode() and "captcha-q" in after.content.decode()
        pages.append(
            (
                before.status_code,
                _page_shape(before.content.decode()),
                after.status_code,
                _page_shape(after.content.decode()),
            )
        )
        c = Client(REMOTE_ADDR="10.8.1.1")
        r = c.post(reverse("accounts:login"), {"username": ident, "password": "anything-1"})
        pages.append((r.status_code, _page_shape(r.content.decode())))
    assert pages[0] == pages[2] and pages[1] == pages[3]


def test_login_identifier_normalised_policy():
    ident = make_id_number().lower()
    assert policy.login_identifier_normalised(ident) == policy.login_identifier_normalised(
        f" {ident.upper()} "
    )
    assert policy.login_identifier_normalised("+86 139 0000 0001") == policy.login_identifier_normalised(
        "13900000001"
    )
    assert not policy.login_captcha_required(policy.LOGIN_CAPTCHA_AFTER_FAILURES - 1)
    assert policy.login_captcha_required(policy.LOGIN_CAPTCHA_AFTER_FAILURES)
