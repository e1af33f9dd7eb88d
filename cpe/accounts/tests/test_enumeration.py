"""Who holds this ID number or mobile? (PIPL Art. 28: ID numbers are sensitive.)

Each test puts the same question to the site in different states of the database (the number
free, taken, terminated for one reason or another) and checks that a person who has not proved
the phone gets the very same answer: status, text and page, once the echo of what they typed and
the CSRF token are set aside. The truth comes only after an SMS code proves a phone."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpe.accounts import policy, services
from cpe.accounts.models import IdentityChangeRequest, User, VerificationCode
from cpe.accounts.states import ChangeStatus, TerminationReason
from cpe.accounts.tests.factories import last_code, make_id_number, verify_staff_session
from cpe.core.masking import mask_mobile
from cpe.notices.models import Channel, OutboundMessage

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"  # the register_learner fixture's password
EARLIER = timezone.now() - timedelta(hours=2)  # accounts made before the probes (no resend wait)


def _page(response, *typed) -> tuple[int, str]:
    """(status, body) with what differs only by construction taken out: the CSRF tokens and
    the values the visitor typed (echoed in the form, or masked in a message)."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)
    body = re.sub(r'"X-CSRFToken": "[^"]*"', "", body)
    for value in typed:
        if value:
            body = body.replace(value, "<typed>").replace(mask_mobile(value), "<typed>")
    return response.status_code, body


def _assert_alike(answers, labels):
    """Every answer equals the first; on failure, show how one differs."""
    import difflib

    for label, answer in zip(labels, answers, strict=True):
        if answer != answers[0]:
            diff = "\n".join(
                difflib.unified_diff(answers[0][1].splitlines(), answer[1].splitlines(), lineterm="", n=1)
            )
            raise AssertionError(f"{label!r} answered differently: {answers[0][0]} vs {answer[0]}\n{diff}")


def _sms_to(mobile) -> int:
    return sum(1 for m in OutboundMessage.objects.filter(channel=Channel.SMS) if m.to == mobile)


def _terminated(register_learner, reason, **kw):
    user = register_learner(at=EARLIER, **kw)
    services.account_terminate(user=user, reason=reason, note="说明")
    user.refresh_from_db()
    return user


# --- 获取验证码 --------------------------------------------------------------------------------
def test_send_code_answers_alike_for_free_taken_and_terminated_mobiles(client, register_learner):
    active = register_learner(at=EARLIER)
    violation = _terminated(register_learner, TerminationReason.VIOLATION)
    unreachable = _terminated(register_learner, TerminationReason.UNREACHABLE)
    mobiles = ["13600000001", active.mobile, violation.mobile, unreachable.mobile]
    url = reverse("accounts:register_code")
    for htmx in ({"HTTP_HX_REQUEST": "true"}, {}):
        client = Client()
        first = [_page(client.post(url, {"mobile": m}, **htmx), m) for m in mobiles]
        assert first[0][0] == 200 and "验证码已发送至 <typed>" in first[0][1]
        assert all(a == first[0] for a in first), "the first send must answer alike"
        again = [_page(client.post(url, {"mobile": m}, **htmx), m) for m in mobiles]
        assert again[0][0] == 400 and "秒后再试" in again[0][1]
        assert all(a == again[0] for a in again), "the resend throttle must answer alike"
        assert "已注册" not in first[0][1] + again[0][1]
        VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    # The code goes to every number: the phone's holder learns the truth after using it.
    assert all(_sms_to(m) >= 2 for m in mobiles)


def test_send_code_without_script_keeps_the_form_and_shows_the_error_inline(client, agreement_v1):
    """No htmx (script blocked or not loaded yet): the button submits the form to the code view,
    which answers with the registration page itself, the typed values kept (never the passwords)
    and the message next to the button; never a bare message in place of the page."""
    data = {
        "id_number": make_id_number(),
        "name": "王小明",
        "email": "w@example.com",
        "mobile": "1380013",
        "employer": "包头市某公司",
        "region": "150200",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    r = client.post(reverse("accounts:register_code"), data)
    html = r.content.decode()
    assert r.status_code == 400 and "<h1>实名注册</h1>" in html
    assert re.search(
        r'id="code-status"[^>]*><span class="inline-msg error"[^>]*>请填写 11 位中国大陆手机号码', html
    )
    for kept in (data["id_number"], "王小明", "w@example.com", "包头市某公司"):
        assert f'value="{kept}"' in html
    assert PASSWORD not in html
    assert 'action="/accounts/register/"' in html  # 注册 still posts to the registration
    r = client.post(reverse("accounts:register_code"), {**data, "mobile": "13800138000"})
    assert r.status_code == 200 and "验证码已发送至 138****8000" in r.content.decode()
    assert User.objects.count() == 0


# --- 注册 before the code proves the phone ------------------------------------------------------
def _register_form(id_number, mobile, code="000000"):
    return {
        "id_number": id_number,
        "name": "王小明",
        "email": "w@example.com",
        "mobile": mobile,
        "employer": "包头市某公司",
        "region": "150200",
        "password": "Wang-2026-x",
        "password2": "Wang-2026-x",
        "sms_code": code,
        "accept": "on",
    }


def test_register_without_the_code_answers_alike_whoever_holds_the_id_or_mobile(register_learner):
    active = register_learner(at=EARLIER)
    violation = _terminated(register_learner, TerminationReason.VIOLATION)
    unreachable = _terminated(register_learner, TerminationReason.UNREACHABLE)
    other = register_learner(at=EARLIER)
    free_id = make_id_number(seq="777")
    cases = [  # (ID number typed, mobile typed)
        (free_id, "13600000011"),  # nothing taken
        (active.id_number, "13600000012"),  # ID number of an active account
        (violation.id_number, "13600000013"),  # ... terminated for a violation
        (unreachable.id_number, "13600000014"),  # ... terminated, contact details unreachable
        (free_id, other.mobile),  # mobile of an account
        (violation.id_number, violation.mobile),  # both the terminated account's
        (active.id_number, active.mobile),  # both the active account's
    ]
    before = (User.objects.count(), VerificationCode.objects.filter(consumed_at__isnull=False).count())
    answers = []
    for id_number, mobile in cases:
        client = Client()
        client.post(reverse("accounts:register_code"), {"mobile": mobile}, HTTP_HX_REQUEST="true")
        wrong = "000000" if last_code(mobile) != "000000" else "111111"
        answers.append(
            _page(
                client.post(reverse("accounts:register"), _register_form(id_number, mobile, wrong)),
                id_number,
                mobile,
            )
        )
    assert answers[0][0] == 400 and policy.CODE_REFUSED_MESSAGE in answers[0][1]
    for (id_number, mobile), answer in zip(cases, answers, strict=True):
        assert answer == answers[0], f"{id_number}/{mobile} answered differently"
    for word in ("已注册", "已有账号，", "终止", "违反"):
        assert word not in answers[0][1]
    assert (
        User.objects.count(),
        VerificationCode.objects.filter(consumed_at__isnull=False).count(),
    ) == before


def test_register_code_failures_answer_alike_used_or_never_sent(register_learner):
    """ "验证码已使用" would say that this mobile registered: every failure reads the same."""
    active = register_learner(at=EARLIER)  # its registration code is used
    answers = [
        _page(
            Client().post(
                reverse("accounts:register"), _register_form(make_id_number(seq="778"), mobile, "123456")
            ),
            mobile,
        )
        for mobile in (active.mobile, "13600000021")
    ]
    assert answers[0] == answers[1] and policy.CODE_REFUSED_MESSAGE in answers[0][1]


# --- 注册 after the code proves the phone ------------------------------------------------------
def _register_proved(id_number, mobile):
    """Register with a code that proves the phone; the response with the code taken out."""
    client = Client()
    client.post(reverse("accounts:register_code"), {"mobile": mobile}, HTTP_HX_REQUEST="true")
    code = last_code(mobile)
    response = client.post(reverse("accounts:register"), _register_form(id_number, mobile, code))
    return _page(response, id_number, mobile, code)


def test_a_new_phone_proves_nothing_about_the_id_numbers_account(register_learner):
    active = register_learner(at=EARLIER)
    violation = _terminated(register_learner, TerminationReason.VIOLATION)
    unreachable = _terminated(register_learner, TerminationReason.UNREACHABLE)
    false_data = _terminated(register_learner, TerminationReason.FALSE_DATA)
    cases = [
        (u.id_number, f"1360000003{i}") for i, u in enumerate([active, violation, unreachable, false_data])
    ]
    answers = [_register_proved(*case) for case in cases]
    assert answers[0][0] == 400 and policy.ID_TAKEN_MESSAGE in answers[0][1]
    _assert_alike(answers, cases)
    for word in ("违反", "终止", "联系方式失效", "虚假", mask_mobile(active.mobile)):
        assert word not in answers[0][1]
    assert User.objects.count() == 4
    # Each look cost a code: the proof is used up by the refusal.
    assert not VerificationCode.objects.filter(purpose="register", consumed_at__isnull=True).exists()


def test_the_accounts_own_phone_learns_the_accounts_state(register_learner):
    active = register_learner(at=EARLIER)
    violation = _terminated(register_learner, TerminationReason.VIOLATION)
    unreachable = _terminated(register_learner, TerminationReason.UNREACHABLE)
    page = _register_proved(violation.id_number, violation.mobile)[1]
    assert "违反用户协议" in page and "不能再次注册" in page
    page = _register_proved(unreachable.id_number, unreachable.mobile)[1]
    assert policy.MOBILE_RESTORABLE_MESSAGE in page
    page = _register_proved(make_id_number(seq="779"), active.mobile)[1]
    assert policy.MOBILE_TAKEN_MESSAGE in page
    assert User.objects.count() == 3


# --- 找回密码 -----------------------------------------------------------------------------------
def test_password_reset_answers_alike_for_known_unknown_staff_and_terminated(
    register_learner, django_user_model
):
    learner = register_learner(at=EARLIER)
    terminated = _terminated(register_learner, TerminationReason.VIOLATION)
    staff = django_user_model.objects.create_user(
        "operator1", "Staff-pass-2026", is_staff=True, name="运营", mobile="13600000041"
    )
    identifiers = [
        learner.id_number,
        learner.mobile,
        make_id_number(seq="780"),
        "13600000042",
        "operator1",
        staff.mobile,
        terminated.id_number,
        "nobody-here",
    ]
    url = reverse("accounts:password_reset")
    before = OutboundMessage.objects.count()
    for _round in range(2):  # the second round is inside the resend interval: still alike
        cache.clear()  # the per-IP throttle (20/h) is not what this test is about
        answers = [_page(Client().post(url, {"username": i, "action": "send"}), i) for i in identifiers]
        assert answers[0][0] == 200 and "若该账号存在" in answers[0][1]
        _assert_alike(answers, identifiers)
        assert mask_mobile(learner.mobile) not in answers[0][1]
    # Only the learner's phone got a code, once (the throttle held the second silently).
    sent = list(OutboundMessage.objects.order_by("id")[before:])
    assert [(m.to, m.event) for m in sent] == [(learner.mobile, "code.reset_password")]
    # Setting the password: a wrong code, no code, a staff account answer alike; nothing changes.
    cache.clear()
    confirms = [
        _page(
            Client().post(
                url, {"username": i, "action": "reset", "sms_code": "000000", "password": "New-pass-2026"}
            ),
            i,
        )
        for i in identifiers
    ]
    assert confirms[0][0] == 200 and policy.CODE_REFUSED_MESSAGE in confirms[0][1]
    _assert_alike(confirms, identifiers)
    staff.refresh_from_db()
    assert staff.check_password("Staff-pass-2026") and not staff.check_password("New-pass-2026")


def test_staff_account_is_never_reset_through_the_learners_page(django_user_model):
    staff = django_user_model.objects.create_user(
        "operator2", "Staff-pass-2026", is_staff=True, name="运营", mobile="13600000043"
    )
    for identifier in ("operator2", staff.mobile):
        services.password_reset_code_send(identifier=identifier)
    assert not VerificationCode.objects.exists() and not OutboundMessage.objects.exists()


# --- 申请变更身份证号码 ------------------------------------------------------------------------
def _signed_in(user):
    client = Client()
    assert (
        client.post(reverse("accounts:login"), {"username": user.mobile, "password": PASSWORD}).status_code
        == 302
    )
    return client


def test_identity_change_answers_alike_for_a_taken_and_a_free_id_number(register_learner):
    a, b, holder = register_learner(), register_learner(), register_learner()
    answers = []
    for user, new_id in ((a, holder.id_number), (b, make_id_number(seq="781"))):
        r = _signed_in(user).post(
            reverse("accounts:identity_change"),
            {"field": "id_number", "new_value": new_id, "reason": "录入错误"},
            follow=True,
        )
        answers.append(
            (
                r.redirect_chain,
                _page(r, user.name, user.mobile)[1].count(policy.IDENTITY_CHANGE_SUBMITTED_MESSAGE),
                "已被" in r.content.decode(),
            )
        )
    assert answers[0] == answers[1] == ([(reverse("accounts:profile"), 302)], 1, False)
    from cpe.accounts.selectors import identity_change_conflict

    taken, free = (IdentityChangeRequest.objects.get(user=u) for u in (a, b))
    assert taken.status == free.status == ChangeStatus.PENDING
    assert identity_change_conflict(taken) and not identity_change_conflict(free)  # the reviewer sees it


def test_identity_change_throttled_per_account(register_learner):
    user = register_learner()
    now = timezone.now()
    for i in range(policy.IDENTITY_CHANGE_MAX_REQUESTS):
        IdentityChangeRequest.objects.create(
            user=user,
            field="id_number",
            new_value=make_id_number(seq=f"8{i:02d}"),
            reason="x",
            status=ChangeStatus.REJECTED,
            created_at=now - timedelta(days=i),
        )
    client = _signed_in(user)
    r = client.post(
        reverse("accounts:identity_change"),
        {"field": "id_number", "new_value": make_id_number(seq="890"), "reason": "再试"},
    )
    assert r.status_code == 200 and "30 天内最多可提交" in r.content.decode()
    assert IdentityChangeRequest.objects.filter(user=user).count() == policy.IDENTITY_CHANGE_MAX_REQUESTS
    # Another learner is not affected; the limit is per account.
    other = register_learner()
    _signed_in(other).post(
        reverse("accounts:identity_change"), {"field": "name", "new_value": "李斯", "reason": "已改名"}
    )
    assert IdentityChangeRequest.objects.filter(user=other).count() == 1
    # Once the oldest request is 30 days old, the learner may ask again.
    IdentityChangeRequest.objects.filter(user=user).update(created_at=now - policy.IDENTITY_CHANGE_WINDOW)
    r = client.post(
        reverse("accounts:identity_change"),
        {"field": "id_number", "new_value": make_id_number(seq="890"), "reason": "再试"},
    )
    assert r.status_code == 302


def test_the_reviewer_sees_the_conflict_the_learner_was_not_told(register_learner, django_user_model):
    a, holder = register_learner(), register_learner()
    taken = services.identity_change_request(
        user=a, field="id_number", new_value=holder.id_number, reason="x"
    )
    free = services.identity_change_request(
        user=holder, field="id_number", new_value=make_id_number(seq="782"), reason="x"
    )
    chief = django_user_model.objects.create_superuser("chief", "Chief-pass-2026")
    staff = Client()
    staff.post(reverse("accounts:login"), {"username": "chief", "password": "Chief-pass-2026"})
    verify_staff_session(staff, chief)
    url = "admin:accounts_identitychangerequest_change"
    assert "该身份证号码已属于其他账号" in staff.get(reverse(url, args=[taken.pk])).content.decode()
    assert "该身份证号码已属于其他账号" not in staff.get(reverse(url, args=[free.pk])).content.decode()


# --- 更换手机号码 --------------------------------------------------------------------------------
def test_mobile_change_send_answers_alike_and_the_truth_needs_the_code(register_learner):
    user, other = register_learner(), register_learner(at=EARLIER)
    client = _signed_in(user)
    url = reverse("accounts:mobile_change")
    answers = [
        _page(client.post(url, {"mobile": m, "action": "send"}), m) for m in ("13600000061", other.mobile)
    ]
    _assert_alike(answers, ["free", "taken"])
    assert "验证码已发送至 <typed>" in answers[0][1] and "已被其他账号使用" not in answers[0][1]
    # The code proves the phone: its holder may learn that another account has it; nothing changes.
    r = client.post(url, {"mobile": other.mobile, "sms_code": last_code(other.mobile), "action": "confirm"})
    assert "已被其他账号使用" in r.content.decode()
    user.refresh_from_db()
    assert user.mobile != other.mobile
