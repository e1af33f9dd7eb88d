"""account_close runs whatever the apps registered (lifecycle.ClosingStep), in order and per
outcome: stop first, then delete (never paid) or archive and then scrub (paid). A step registered
here for the test only shows that a new app's step is run without accounts knowing it."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from cpe.accounts import closing, lifecycle, policy
from cpe.accounts.models import ArchivedAccount, User
from cpe.core import crypto
from cpe.core.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"


@pytest.fixture
def recorded(monkeypatch):
    """A step of a pretend app, between support threads (50) and invoices (60)."""
    calls = []
    step = lifecycle.ClosingStep(
        "planted",
        order=55,
        models=(),
        reason="test",
        stop=lambda user, at: calls.append(("stop", user.name)),
        delete=lambda user: calls.append(("delete", user.name)) or 2,
        scrub=lambda user, at: calls.append(("scrub", user.name)) or 3,
        archive=lambda user: calls.append(("archive", user.name)) or {"planted": [user.name]},
    )
    monkeypatch.setitem(lifecycle._steps, step.key, step)
    return calls


def _event():
    return AuditEvent.objects.filter(event_type=closing.CLOSED_EVENT).order_by("-seq").first()


def test_never_paid_runs_stop_then_delete_and_counts_it(register_learner, recorded):
    user = register_learner()
    name = user.name
    assert closing.account_close(user=user, password=PASSWORD, confirmed=True) == policy.ClosingOutcome.DELETE
    assert recorded == [("stop", name), ("delete", name)]  # the user row still readable when they run
    deleted = _event().data["deleted"]
    assert deleted["planted"] == 2 and deleted["unpaid_orders"] == 0 and "invoices" not in deleted


def test_paid_runs_stop_archive_then_scrub_and_seals_it(learner, paid_order, recorded):
    from cpe.learning.models import Enrolment
    from cpe.orders.models import Order

    paid = timezone.now() - timedelta(days=100)  # validity over, still paid: closing allowed, archived
    Order.objects.filter(pk=paid_order.pk).update(paid_at=paid, created_at=paid)
    Enrolment.objects.filter(order=paid_order).update(valid_from=paid, valid_until=paid + timedelta(days=90))
    user = User.objects.get(pk=learner.pk)
    name = user.name

    outcome = closing.account_close(user=user, password=PASSWORD, confirmed=True)
    assert outcome == policy.ClosingOutcome.ARCHIVE
    assert recorded == [("stop", name), ("archive", name), ("scrub", name)]
    assert _event().data["scrubbed"]["planted"] == 3 and "planted" not in _event().data.get("deleted", {})
    content = json.loads(crypto.archive_open(ArchivedAccount.objects.get().sealed, ArchivedAccount.AAD))
    assert content["planted"] == [name] and content["orders"][0]["number"] == paid_order.number


def test_a_refusal_runs_no_step(learner, paid_order, recorded):
    """Paid and still valid, learning unfinished: refused before any step (rules R11.1)."""
    from cpe.accounts.errors import AccountError

    with pytest.raises(AccountError):
        closing.account_close(user=User.objects.get(pk=learner.pk), password=PASSWORD, confirmed=True)
    assert recorded == []
