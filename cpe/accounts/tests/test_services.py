"""Account services on a real database: what changes, and what must not on refusal."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cpe.accounts import policy, services
from cpe.accounts.errors import AccountError
from cpe.accounts.models import IdentityChangeRequest, LoginRecord, User, VerificationCode
from cpe.accounts.states import AccountStatus, ChangeStatus, MinorReview, TerminationReason
from cpe.accounts.tests.factories import last_code, make_id_number
from cpe.agreements.models import AgreementAcceptance
from cpe.catalog.tests.factories import this_year
from cpe.core import crypto
from cpe.core.audit import audit_verify
from cpe.core.models import AuditEvent
from cpe.notices.models import OutboundMessage

pytestmark = pytest.mark.django_db


def _counts():
    return (User.objects.count(), AgreementAcceptance.objects.count(), AuditEvent.objects.count())


def _form(n=1, **kw):
    data = {
        "id_number": make_id_number(seq=f"{500 + n:03d}"),
        "name": "王五",
        "email": f"w{n}@example.com",
        "mobile": f"1370000{n:04d}",
        "employer": "赤峰市某单位",
        "region": "150400",
        "password": "Wang-wu-2026",
        "self_supporting": False,
    }
    data.update(kw)
    return data


def test_register_creates_learner_acceptance_and_audit(register_learner, agreement_v1):
    user = register_learner(name="李四")
    assert user.status == AccountStatus.ACTIVE and user.mobile_verified_at is not None
    acc = AgreementAcceptance.objects.get(user=user)
    assert acc.version == agreement_v1 and acc.text_hash == agreement_v1.text_hash
    assert acc.ip == "127.0.0.1" and acc.user_agent == "pytest"
    assert AuditEvent.objects.filter(event_type="account.registered", subject_id=str(user.pk)).exists()
    assert AuditEvent.objects.filter(event_type="agreement.accepted").exists()
    # The e-mail is verified by a link before it is used for notices.
    assert user.email_verified_at is None
    assert OutboundMessage.objects.filter(event="email.verify", user=user).exists()
    assert audit_verify().ok


def test_raw_rows_hold_no_clear_personal_data(register_learner):
    user = register_learner(mobile="13912345678", email="clear@example.com")
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM accounts_user WHERE id = %s", [user.pk])
        row = " ".join(str(v) for v in cur.fetchone())
        cur.execute("SELECT * FROM notices_outboundmessage")
        outbox = " ".join(str(v) for r in cur.fetchall() for v in r)
        cur.execute("SELECT * FROM accounts_verificationcode")
        codes = " ".join(str(v) for r in cur.fetchall() for v in r)
        cur.execute("SELECT data FROM core_auditevent")
        audit = " ".join(str(r[0]) for r in cur.fetchall())
    for clear in (user.id_number, "13912345678", "clear@example.com"):
        assert clear not in row and clear not in outbox and clear not in codes and clear not in audit
    # ... while the model reads them back in clear.
    assert User.objects.get(pk=user.pk).mobile == "13912345678"


def test_duplicate_id_number_refused_and_nothing_changes(register_learner, agreement_v1):
    first = register_learner()
    before = _counts()
    services.registration_code_send(mobile_raw="13700009999")
    with pytest.raises(AccountError) as exc:
        services.user_register(
            **_form(id_number=first.id_number.lower(), mobile="13700009999"),
            sms_code=last_code("13700009999"),
            agreement_version=agreement_v1,
        )
    assert exc.value.code == "id_taken" and exc.value.field == "id_number"
    assert _counts() == before
    # The code proved the phone and is used up: one code, one look at who holds an ID number.
    assert VerificationCode.objects.filter(purpose="register", consumed_at__isnull=True).count() == 0


def test_database_enforces_one_account_per_id_number(register_learner):
    from django.db import IntegrityError, transaction

    first = register_learner()
    clone = User(username="clone", name="复制", id_number=first.id_number, mobile="13611112222")
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


@pytest.mark.parametrize(
    "overrides,code,field",
    [
        ({"id_number": "110105194912310021"}, "id_checksum", "id_number"),
        # Ages counted from today (a fixed birth year turns a 17-year-old into an adult next year);
        # born 1 July: 16 or 17 for a year and a half, so a run that crosses New Year stays a minor.
        ({"id_number": make_id_number(birth=f"{this_year() - 14}0101")}, "under_16", "id_number"),
        (
            {"id_number": make_id_number(birth=f"{this_year() - 17}0701")},
            "minor_needs_declaration",
            "self_supporting",
        ),
        ({"name": "张3"}, "bad_name", "name"),
        ({"region": "999999"}, "bad_region", "region"),
    ],
)
def test_bad_registration_changes_nothing(agreement_v1, overrides, code, field):
    data = _form(**overrides)
    services.registration_code_send(mobile_raw=data["mobile"])
    before = _counts()
    with pytest.raises(AccountError) as exc:
        services.user_register(**data, sms_code=last_code(data["mobile"]), agreement_version=agreement_v1)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert exc.value.message
    assert _counts() == before


def test_wrong_code_refused_counted_and_then_locked(agreement_v1):
    data = _form()
    services.registration_code_send(mobile_raw=data["mobile"])
    for _ in range(5):
        with pytest.raises(AccountError) as exc:
            services.user_register(
                **data,
                sms_code="000000" if last_code(data["mobile"]) != "000000" else "111111",
                agreement_version=agreement_v1,
            )
        assert exc.value.code == "wrong_code"
    # After five wrong guesses even the right code is refused.
    with pytest.raises(AccountError) as exc:
        services.user_register(**data, sms_code=last_code(data["mobile"]), agreement_version=agreement_v1)
    # ... with the one neutral answer every code failure gets at registration (no "used"/"expired" tells).
    assert (
        exc.value.__cause__.code == "too_many_attempts" and exc.value.message == policy.CODE_REFUSED_MESSAGE
    )
    assert User.objects.count() == 0


def test_sms_resend_throttled(agreement_v1):
    services.registration_code_send(mobile_raw="13700000077")
    with pytest.raises(AccountError) as exc:
        services.registration_code_send(mobile_raw="13700000077")
    assert exc.value.code == "too_soon"
    assert VerificationCode.objects.count() == 1 and OutboundMessage.objects.count() == 1


def test_minor_with_declaration_flagged_for_review(register_learner):
    user = register_learner(id_number=make_id_number(birth=f"{this_year() - 17}0701"), self_supporting=True)
    assert user.self_supporting and user.minor_review == MinorReview.PENDING


def test_minor_review_reject_terminates(register_learner, django_user_model):
    user = register_learner(id_number=make_id_number(birth=f"{this_year() - 17}0701"), self_supporting=True)
    reviewer = django_user_model.objects.create_user("rev", "x", is_staff=True, name="审核")
    with pytest.raises(AccountError):
        services.minor_review_decide(user_id=user.pk, approve=False, reviewer=reviewer, note="")
    services.minor_review_decide(user_id=user.pk, approve=False, reviewer=reviewer, note="无收入证明")
    user.refresh_from_db()
    assert user.status == AccountStatus.TERMINATED and user.status_reason == TerminationReason.NO_CAPACITY
    assert not user.is_active


def test_identity_change_approve_applies_once(register_learner, django_user_model):
    user = register_learner(name="李四")
    reviewer = django_user_model.objects.create_user("rev", "x", is_staff=True, name="审核")
    req = services.identity_change_request(user=user, field="name", new_value="李斯", reason="改名")
    with pytest.raises(AccountError) as exc:
        services.identity_change_request(user=user, field="name", new_value="李思", reason="再改")
    assert exc.value.code == "pending_exists"
    services.identity_change_decide(change_id=req.pk, approve=True, reviewer=reviewer)
    with pytest.raises(AccountError) as exc:  # a double click
        services.identity_change_decide(change_id=req.pk, approve=False, reviewer=reviewer, note="x")
    assert exc.value.code == "already_decided"
    user.refresh_from_db()
    assert user.name == "李斯"
    assert IdentityChangeRequest.objects.get(pk=req.pk).status == ChangeStatus.APPROVED
    ev = AuditEvent.objects.get(event_type="identity_change.approved")
    assert ev.data["old"] == "李*" and ev.data["new"] == "李*"


def test_identity_change_id_number_reject_keeps_old(register_learner, django_user_model):
    user = register_learner()
    old = user.id_number
    reviewer = django_user_model.objects.create_user("rev", "x", is_staff=True, name="审核")
    new_id = make_id_number(seq="777")
    req = services.identity_change_request(user=user, field="id_number", new_value=new_id, reason="录入错误")
    with pytest.raises(AccountError):
        services.identity_change_decide(change_id=req.pk, approve=False, reviewer=reviewer, note="")
    services.identity_change_decide(change_id=req.pk, approve=False, reviewer=reviewer, note="与身份证不符")
    user.refresh_from_db()
    assert user.id_number == old


def test_identity_change_to_taken_id_goes_to_the_reviewer_who_cannot_approve_it(
    register_learner, django_user_model
):
    """The learner is not told that the ID number is taken (PIPL Art. 28); the reviewer sees
    the conflict and approving it is refused without changing anything."""
    from cpe.accounts.selectors import identity_change_conflict

    a, b = register_learner(), register_learner()
    req = services.identity_change_request(user=a, field="id_number", new_value=b.id_number, reason="x")
    assert req.status == ChangeStatus.PENDING and identity_change_conflict(req)
    reviewer = django_user_model.objects.create_user(username="rev", password="x", is_staff=True)
    with pytest.raises(AccountError) as exc:
        services.identity_change_decide(change_id=req.pk, approve=True, reviewer=reviewer)
    assert exc.value.code == "id_taken"
    req.refresh_from_db()
    a.refresh_from_db()
    assert req.status == ChangeStatus.PENDING and a.id_number != b.id_number


def test_mobile_change_reverified(register_learner):
    user = register_learner()
    services.mobile_change_code_send(user=user, new_mobile_raw="13655556666")
    with pytest.raises(AccountError):
        services.mobile_change_confirm(
            user=user,
            new_mobile_raw="13655556666",
            code="000001" if last_code("13655556666") != "000001" else "000002",
        )
    assert User.objects.get(pk=user.pk).mobile != "13655556666"
    services.mobile_change_confirm(user=user, new_mobile_raw="13655556666", code=last_code("13655556666"))
    assert User.objects.get(pk=user.pk).mobile == "13655556666"
    assert AuditEvent.objects.filter(event_type="account.mobile_changed").exists()


def test_email_change_by_link(register_learner):
    import re

    user = register_learner()
    services.email_change_request(user=user, new_email="New@Example.com")
    msg = OutboundMessage.objects.filter(event="email.verify").order_by("-id").first()
    code_id, token = re.search(r"/email/confirm/(\d+)/([^/]+)/", msg.body).groups()
    assert User.objects.get(pk=user.pk).email != "new@example.com"
    with pytest.raises(AccountError):
        services.email_confirm(code_id=int(code_id), token="forged")
    services.email_confirm(code_id=int(code_id), token=token)
    user.refresh_from_db()
    assert user.email == "new@example.com" and user.email_verified_at is not None


def test_session_begin_records_and_replaces(register_learner):
    user = register_learner()
    services.session_begin(user=user, session_key="s1", ip="10.0.0.1", user_agent="A")
    rec = services.session_begin(user=user, session_key="s2", ip="10.0.0.2", user_agent="B")
    user.refresh_from_db()
    assert user.session_key_hash == crypto.blind_index("session_key", "s2")
    assert "s2" not in {getattr(user, f.attname) for f in User._meta.concrete_fields}  # never the key itself
    assert rec.ended_other_session and rec.is_new_device
    assert LoginRecord.objects.filter(user=user).count() == 2


def test_correction_hold_set_and_clear(register_learner, django_user_model):
    user = register_learner()
    staff = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    with pytest.raises(AccountError):
        services.correction_hold_set(user_id=user.pk, reason=" ", actor=staff)
    assert not User.objects.get(pk=user.pk).on_hold
    services.correction_hold_set(user_id=user.pk, reason="工作单位填写不完整", actor=staff)
    assert User.objects.get(pk=user.pk).on_hold
    services.correction_hold_clear(user_id=user.pk, actor=staff)
    assert not User.objects.get(pk=user.pk).on_hold


def test_terminated_for_violation_cannot_register_again(register_learner, agreement_v1):
    user = register_learner()
    services.account_terminate(user=user, reason=TerminationReason.VIOLATION, note="转借账号")
    data = _form(id_number=user.id_number, mobile="13700001234")
    services.registration_code_send(mobile_raw=data["mobile"])
    with pytest.raises(AccountError) as exc:
        services.user_register(**data, sms_code=last_code(data["mobile"]), agreement_version=agreement_v1)
    # Refused; a new phone proves nothing about the account, so the reason is not told.
    assert exc.value.code == "id_taken" and "违反" not in exc.value.message
    # The account's own phone (which was told of the termination) learns why.
    data = _form(id_number=user.id_number, mobile=user.mobile)
    later = timezone.now() + timedelta(minutes=2)  # past the resend interval of the first code
    services.registration_code_send(mobile_raw=data["mobile"], at=later)
    with pytest.raises(AccountError) as exc:
        services.user_register(
            **data, sms_code=last_code(data["mobile"]), agreement_version=agreement_v1, at=later
        )
    assert exc.value.code == "banned_person" and "违反用户协议" in exc.value.message


def test_password_reset_by_sms(register_learner):
    user = register_learner(mobile="13688889999")
    services.password_reset_code_send(identifier=user.id_number)
    services.password_reset_confirm(
        identifier="13688889999", code=last_code("13688889999"), new_password="New-pass-2026"
    )
    assert User.objects.get(pk=user.pk).check_password("New-pass-2026")
    # An unknown identifier gets the same answer and nothing is sent.
    before = OutboundMessage.objects.count()
    assert "若该账号存在" in services.password_reset_code_send(identifier="13600000000")
    assert OutboundMessage.objects.count() == before


def test_registration_at_birthday_second(agreement_v1):
    """Born 2008-11-29: refused (without declaration) at 23:59:59 on the 28th in Shanghai,
    accepted at 00:00:00 on the 29th."""
    from datetime import datetime
    from datetime import timezone as dt_tz

    data = _form(id_number=make_id_number(birth="20081129"))
    midnight = datetime(2026, 11, 28, 16, 0, tzinfo=dt_tz.utc)
    services.registration_code_send(mobile_raw=data["mobile"], at=midnight - timedelta(seconds=1))
    with pytest.raises(AccountError) as exc:
        services.user_register(
            **data,
            sms_code=last_code(data["mobile"]),
            agreement_version=agreement_v1,
            at=midnight - timedelta(seconds=1),
        )
    assert exc.value.code == "minor_needs_declaration"
    user = services.user_register(
        **data, sms_code=last_code(data["mobile"]), agreement_version=agreement_v1, at=midnight
    )
    assert user.minor_review == MinorReview.NONE


def test_profile_update_audits_no_employer_name(register_learner):
    from cpe.accounts.services import profile_update
    from cpe.core.models import AuditEvent

    learner = register_learner(employer="包头市某公司")
    profile_update(user=learner, employer="呼和浩特市另一家公司", region="150100")
    event = AuditEvent.objects.get(event_type="account.profile_updated")
    assert "公司" not in str(event.data) and event.data == {
        "employer_changed": True,
        "region": ["150200", "150100"],
    }
