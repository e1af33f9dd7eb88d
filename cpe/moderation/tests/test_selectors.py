"""Re-registration after a termination for a violation (rules R12)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cpe.accounts import services as account_services
from cpe.accounts.errors import AccountError
from cpe.accounts.states import TerminationReason
from cpe.accounts.tests.factories import last_code, make_id_number
from cpe.moderation import policy, selectors

pytestmark = pytest.mark.django_db


def test_registration_refused_after_a_violation(register_learner):
    learner = register_learner()
    assert selectors.registration_refused(learner.id_number) is None  # active: not this rule's business
    account_services.account_terminate(user=learner, reason=TerminationReason.VIOLATION, note="转借账号")
    assert selectors.registration_refused(learner.id_number) == policy.REREGISTRATION_REFUSED_MESSAGE
    # the blind index normalises: a lower-case x or surrounding spaces are the same person
    assert (
        selectors.registration_refused(f"  {learner.id_number.lower()} ")
        == policy.REREGISTRATION_REFUSED_MESSAGE
    )


@pytest.mark.parametrize("reason", [r for r in TerminationReason.values if r != TerminationReason.VIOLATION])
def test_other_terminations_do_not_bar_the_person(register_learner, reason):
    learner = register_learner()
    account_services.account_terminate(user=learner, reason=reason, note="说明")
    assert selectors.registration_refused(learner.id_number) is None


def test_unknown_or_empty_id_number(db):
    assert selectors.registration_refused(make_id_number(seq="999")) is None
    assert selectors.registration_refused("") is None


def _register_again(user, agreement, mobile="13700001234"):
    data = {
        "id_number": user.id_number,
        "name": user.name,
        "email": "again@example.com",
        "mobile": mobile,
        "employer": "包头市某公司",
        "region": "150200",
        "password": "Zhang-san-2026",
        "self_supporting": False,
    }
    at = timezone.now() + timedelta(minutes=2)  # past the resend interval of the first registration's code
    account_services.registration_code_send(mobile_raw=data["mobile"], at=at)
    return account_services.user_register(
        **data, sms_code=last_code(data["mobile"]), agreement_version=agreement, at=at
    )


def test_integration_registering_again_after_a_violation_is_refused(register_learner, agreement_v1):
    """Refused with a new phone too, but without the reason: proving a new phone does not prove
    the account, and why a person was terminated is theirs (accounts.policy.registration_refusal)."""
    learner = register_learner()
    account_services.account_terminate(user=learner, reason=TerminationReason.VIOLATION, note="转借账号")
    with pytest.raises(AccountError) as exc:
        _register_again(learner, agreement_v1)
    assert exc.value.field == "id_number" and "违反用户协议" not in exc.value.message


def test_integration_user_register_uses_the_selector(register_learner, agreement_v1):
    learner = register_learner()
    account_services.account_terminate(user=learner, reason=TerminationReason.VIOLATION, note="转借账号")
    with pytest.raises(AccountError) as exc:
        _register_again(learner, agreement_v1, mobile=learner.mobile)  # the account's own phone
    assert (exc.value.code, exc.value.message) == ("banned_person", policy.REREGISTRATION_REFUSED_MESSAGE)
