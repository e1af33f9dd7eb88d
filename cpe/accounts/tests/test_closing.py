"""注销账号 (rules R11) on a real database: what goes, what stays, what a refusal leaves."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cpe.accounts import closing, policy
from cpe.accounts.auth import IdentifierBackend
from cpe.accounts.errors import AccountError
from cpe.accounts.models import ArchivedAccount, LoginRecord, User, VerificationCode
from cpe.core import crypto
from cpe.core.audit import audit_verify
from cpe.core.models import AuditEvent
from cpe.notices.models import MessageStatus, OutboundMessage

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"


def _all_rows_text() -> str:
    """Every row of every table, as the database holds it (ciphertext stays ciphertext)."""
    parts = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            parts.extend(str(v) for row in cur.fetchall() for v in row)
    return " ".join(parts)


def _clear_values(user):
    return [user.id_number, user.mobile, user.email, user.employer, user.name]


def _readable_anywhere(clear) -> list:
    """Encrypted columns read back through the ORM (the live key opens them): only the closing
    confirmation may still hold the address (until outbox_scrub_closed)."""
    found = [m.pk for m in OutboundMessage.objects.exclude(event="account.closed") if m.to in clear]
    found += [c.pk for c in VerificationCode.objects.all() if c.target in clear]
    found += [u.pk for u in User.objects.all() if {u.id_number, u.mobile, u.email, u.name} & set(clear)]
    return found


def _expire(order, days_ago=100):
    """Move a paid order and its enrolment into the past: validity over, still paid."""
    from cpe.learning.models import Enrolment
    from cpe.orders.models import Order

    paid = timezone.now() - timedelta(days=days_ago)
    Order.objects.filter(pk=order.pk).update(paid_at=paid, created_at=paid)
    Enrolment.objects.filter(order=order).update(valid_from=paid, valid_until=paid + timedelta(days=90))
    return paid


def test_never_paid_learner_is_deleted_and_the_chain_still_verifies(register_learner, annual):
    from cpe.agreements.models import AgreementAcceptance
    from cpe.orders.services import order_create
    from cpe.support.models import Thread

    user = register_learner(mobile="13911112222", email="gone@example.com")
    clear = _clear_values(user)
    order_create(user=user, product_code=annual.code, ais_confirmed=True)  # pending, never paid (PROTECT)
    Thread.objects.create(
        user=user, title="发票问题", created_at=timezone.now(), last_message_at=timezone.now()
    )
    LoginRecord.objects.create(user=user, at=timezone.now(), ip="10.0.0.1", device_key="x")
    events_before = AuditEvent.objects.count()

    outcome = closing.account_close(user=user, password=PASSWORD, confirmed=True, ip="10.0.0.2")

    assert outcome == policy.ClosingOutcome.DELETE
    assert not User.objects.filter(pk=user.pk).exists()
    assert not AgreementAcceptance.objects.filter(user_id=user.pk).exists()
    assert not VerificationCode.objects.exists() and not LoginRecord.objects.exists()
    assert not ArchivedAccount.objects.exists()
    raw = _all_rows_text()
    for value in clear:
        assert value not in raw
    assert _readable_anywhere(clear) == []
    # The audit rows stay (none deleted), one more says what happened, without personal data.
    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.event_type == "account.closed" and event.subject_id == str(user.pk)
    assert event.data["outcome"] == "delete" and event.data["deleted"]["unpaid_orders"] == 1
    assert audit_verify().ok
    # The confirmation was queued before the contact data went, detached from the account.
    sms = OutboundMessage.objects.get(event="account.closed", channel="sms")
    assert sms.to == "13911112222" and sms.user_id is None and "注销" in sms.body
    sms.status = MessageStatus.SENT
    sms.save(update_fields=["status"])
    assert closing.outbox_scrub_closed() == 1
    sms.refresh_from_db()
    assert sms.to == "" and sms.body == "" and sms.to_masked == "139****2222"


def test_paid_learner_is_locked_archived_and_not_found(learner, paid_order):
    from cpe.credits.selectors import public_query
    from cpe.invoicing.models import Invoice  # noqa: F401  (buyer data scrubbed through the same path)

    user = User.objects.get(pk=learner.pk)
    clear = _clear_values(user)
    name = user.name
    assert public_query(id_number=user.id_number, name=name) is not None
    paid = _expire(paid_order)

    outcome = closing.account_close(user=user, password=PASSWORD, confirmed=True)

    assert outcome == policy.ClosingOutcome.ARCHIVE
    live = User.objects.get(pk=user.pk)
    assert live.status == "closed" and not live.is_active and not live.has_usable_password()
    assert live.name == policy.CLOSED_NAME and live.id_number == "" and live.mobile == "" and live.email == ""
    assert live.employer == "" and live.id_number_bidx is None and live.mobile_bidx is None
    assert IdentifierBackend().authenticate(None, username=clear[0], password=PASSWORD) is None
    assert IdentifierBackend().authenticate(None, username=clear[1], password=PASSWORD) is None
    assert public_query(id_number=clear[0], name=name) is None
    # The order stays (3-year retention) without naming the person; nothing readable is left.
    paid_order.refresh_from_db()
    assert paid_order.user_id == user.pk and paid_order.status == "paid"
    raw = _all_rows_text()
    for value in clear:
        assert value not in raw
    assert _readable_anywhere(clear) == []
    # The archive opens with the archive key only, and holds the data.
    archive = ArchivedAccount.objects.get(user=live)
    assert archive.purge_after == policy.closing_purge_after(paid)
    content = json.loads(crypto.archive_open(archive.sealed, ArchivedAccount.AAD))
    assert content["identity"]["id_number"] == clear[0] and content["identity"]["name"] == name
    assert content["identity"]["mobile"] == clear[1] and content["identity"]["employer"] == clear[3]
    assert [o["number"] for o in content["orders"]] == [paid_order.number]
    field = crypto.field_keys()
    with pytest.raises(crypto.DecryptionError):
        crypto.archive_open(
            archive.sealed, ArchivedAccount.AAD, keys={archive.key_id: field.keys[field.active]}
        )
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(archive.sealed, ArchivedAccount.AAD)
    assert audit_verify().ok
    # The same ID number may register again (closing is not a ban).
    assert not User.objects.filter(id_number_bidx=crypto.blind_index("id_number", clear[0])).exists()


def test_purge_after_the_date_not_before(learner, paid_order):
    _expire(paid_order)
    closing.account_close(user=User.objects.get(pk=learner.pk), password=PASSWORD, confirmed=True)
    archive = ArchivedAccount.objects.get()
    assert closing.archives_purge(at=archive.purge_after - timedelta(seconds=1)) == 0
    assert ArchivedAccount.objects.filter(pk=archive.pk).exists()
    assert closing.archives_purge(at=archive.purge_after) == 1
    assert not ArchivedAccount.objects.exists()
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.event_type == "account.archive_purged" and event.data["archive"] == archive.pk
    assert User.objects.get(pk=learner.pk).status == "closed"  # the placeholder row stays
    assert audit_verify().ok


def _snapshot(user_id):
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM accounts_user WHERE id = %s", [user_id])
        row = cur.fetchone()
    return row, AuditEvent.objects.count(), OutboundMessage.objects.count(), ArchivedAccount.objects.count()


@pytest.mark.parametrize(
    "password, confirmed, code",
    [
        ("wrong-password", True, "wrong_password"),
        (PASSWORD, False, "not_confirmed"),
        (PASSWORD, True, "learning_unfinished"),  # paid, valid, course credit not recorded
    ],
)
def test_refusal_changes_nothing(learner, paid_order, password, confirmed, code):
    before = _snapshot(learner.pk)
    with pytest.raises(AccountError) as exc:
        closing.account_close(user=User.objects.get(pk=learner.pk), password=password, confirmed=confirmed)
    assert exc.value.code == code and exc.value.message
    assert _snapshot(learner.pk) == before


def test_refund_in_progress_refused(learner, paid_order):
    from cpe.orders.models import Order

    _expire(paid_order)
    Order.objects.filter(pk=paid_order.pk).update(status="refund_requested")
    before = _snapshot(learner.pk)
    with pytest.raises(AccountError) as exc:
        closing.account_close(user=User.objects.get(pk=learner.pk), password=PASSWORD, confirmed=True)
    assert exc.value.code == "refund_in_progress" and "退款" in exc.value.message
    assert _snapshot(learner.pk) == before


# --- the page ---------------------------------------------------------------------------------
@pytest.fixture
def signed_in(client, register_learner):
    user = register_learner()
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(
        session_key_hash=crypto.blind_index("session_key", client.session.session_key)
    )
    return client, user


def test_close_page_wrong_password_changes_nothing_then_closes(signed_in):
    client, user = signed_in
    page = client.get(reverse("accounts:close")).content.decode()
    assert "注销账号" in page and "登录密码" in page and "立即删除" in page
    before = _snapshot(user.pk)
    r = client.post(reverse("accounts:close"), {"password": "not-it", "confirm": "on"})
    assert r.status_code == 400 and "密码不正确，账号未注销。" in r.content.decode()
    assert _snapshot(user.pk) == before
    r = client.post(reverse("accounts:close"), {"password": PASSWORD, "confirm": "on"})
    assert r.status_code == 302 and r.url == reverse("accounts:closed")
    assert "账号已注销" in client.get(r.url).content.decode()
    assert not User.objects.filter(pk=user.pk).exists()
    assert client.get(reverse("accounts:dashboard")).status_code == 302  # signed out
