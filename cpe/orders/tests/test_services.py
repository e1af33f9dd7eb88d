"""Order and payment services on a real database."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cpe.learning.models import Enrolment
from cpe.orders import services
from cpe.orders.errors import OrderError
from cpe.orders.gateways.base import PaymentNotice
from cpe.orders.models import Order, Refund
from cpe.orders.states import OrderStatus

pytestmark = pytest.mark.django_db


def _notice(order, **kw):
    data = {
        "order_number": order.number,
        "gateway_txn_id": "TXN-" + order.number,
        "amount_fen": order.amount_fen,
        "paid_at": timezone.now(),
    }
    data.update(kw)
    return PaymentNotice(**data)


def test_learner_not_in_ais_must_confirm(register_learner, annual):
    user = register_learner()
    with pytest.raises(OrderError) as exc:
        services.order_create(user=user, product_code=annual.code)
    assert exc.value.code == "ais_confirm_required"
    assert Order.objects.count() == 0
    order = services.order_create(user=user, product_code=annual.code, ais_confirmed=True)
    assert order.ais_warning_confirmed and order.amount_fen == 19800


def test_hold_blocks_buying(learner, annual, django_user_model):
    from cpe.accounts.services import correction_hold_set

    staff = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    correction_hold_set(user_id=learner.pk, reason="单位名称有误", actor=staff)
    learner.refresh_from_db()
    with pytest.raises(OrderError) as exc:
        services.order_create(user=learner, product_code=annual.code)
    assert exc.value.code == "on_hold" and "单位名称有误" in exc.value.message
    assert Order.objects.count() == 0


def test_open_order_reused(learner, annual):
    a = services.order_create(user=learner, product_code=annual.code)
    b = services.order_create(user=learner, product_code=annual.code)
    assert a.pk == b.pk


def test_payment_activates_for_exactly_the_validity(learner, annual):
    order = services.order_create(user=learner, product_code=annual.code)
    paid_at = timezone.now() - timedelta(seconds=5)
    assert services.payment_confirm(gateway_name="alipay", notice=_notice(order, paid_at=paid_at)) == (
        "activated",
        True,
    )
    order.refresh_from_db()
    e = Enrolment.objects.get(order=order)
    assert order.status == OrderStatus.PAID and order.paid_at == paid_at
    assert e.valid_from == paid_at and e.valid_until == paid_at + timedelta(days=90)


def test_cannot_buy_what_is_held(paid_order, learner, annual):
    with pytest.raises(OrderError) as exc:
        services.order_create(user=learner, product_code=annual.code)
    assert exc.value.code == "already_held"


def test_can_buy_again_after_expiry(paid_order, learner, annual):
    Enrolment.objects.filter(order=paid_order).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert services.order_create(user=learner, product_code=annual.code).status == OrderStatus.PENDING


@pytest.mark.parametrize(
    "change,outcome",
    [
        ({"amount_fen": 19799}, "rejected:amount_mismatch"),
        ({"order_number": "CPE-NO-SUCH"}, "rejected:unknown_order"),
    ],
)
def test_bad_payments_change_nothing(learner, annual, change, outcome):
    order = services.order_create(user=learner, product_code=annual.code)
    assert services.payment_confirm(gateway_name="alipay", notice=_notice(order, **change)) == (
        outcome,
        False,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and order.paid_at is None
    assert not Enrolment.objects.exists()


def test_replay_is_acknowledged_and_changes_nothing(paid_order):
    before = (Enrolment.objects.count(), Order.objects.get(pk=paid_order.pk).paid_at)
    notice = _notice(paid_order, gateway_txn_id=paid_order.gateway_txn_id, paid_at=timezone.now())
    assert services.payment_confirm(gateway_name="alipay", notice=notice) == ("duplicate", True)
    assert (Enrolment.objects.count(), Order.objects.get(pk=paid_order.pk).paid_at) == before


def test_second_payment_of_a_paid_order_is_flagged_not_activated(paid_order):
    from cpe.core.models import AuditEvent

    notice = _notice(paid_order, gateway_txn_id="OTHER-TXN")
    assert services.payment_confirm(gateway_name="wechat", notice=notice) == ("unmatched_payment", True)
    assert Enrolment.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="payment.unmatched").exists()


def test_unpaid_order_closes_after_30_minutes(learner, annual):
    order = services.order_create(user=learner, product_code=annual.code)
    assert services.orders_close_expired(at=order.created_at + timedelta(minutes=29, seconds=59)) == 0
    # No gateway was chosen, so there is nothing to ask: it closes.
    assert services.orders_close_expired(at=order.created_at + timedelta(minutes=30)) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.CLOSED and order.close_reason == "超时未支付"


def test_refund_request_window_and_nothing_changes_on_refusal(paid_order, learner):
    late = paid_order.paid_at + timedelta(days=7)
    with pytest.raises(OrderError) as exc:
        services.refund_request(user=learner, order_number=paid_order.number, reason="不想学了", at=late)
    assert exc.value.code == "window_passed"
    assert Refund.objects.count() == 0 and Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID
    with pytest.raises(OrderError):
        services.refund_request(user=learner, order_number=paid_order.number, reason="  ")
    refund = services.refund_request(
        user=learner, order_number=paid_order.number, reason="重复购买", at=late - timedelta(seconds=1)
    )
    assert refund.status == "requested"
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.REFUND_REQUESTED


def test_refund_reject_returns_order_to_paid(paid_order, learner, django_user_model):
    fin = django_user_model.objects.create_user("fin", "x", is_staff=True, name="财务")
    refund = services.refund_request(user=learner, order_number=paid_order.number, reason="重复购买")
    with pytest.raises(OrderError):
        services.refund_reject(refund_id=refund.pk, reviewer=fin, note="")
    services.refund_reject(refund_id=refund.pk, reviewer=fin, note="已开始学习且超过约定")
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.PAID
    with pytest.raises(OrderError):
        services.refund_approve(refund_id=refund.pk, reviewer=fin)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_notifications_activate_once(register_learner, annual):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (CI runs this on PostgreSQL)")
    from cpe.accounts.models import User

    user = register_learner()
    User.objects.filter(pk=user.pk).update(ais_status="found")
    user.refresh_from_db()
    order = services.order_create(user=user, product_code=annual.code)
    notice = _notice(order)
    outcomes, barrier = [], threading.Barrier(50)

    def hit():
        barrier.wait()
        try:
            outcomes.append(services.payment_confirm(gateway_name="alipay", notice=notice)[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["activated", "duplicate"] and outcomes.count("activated") == 1
    assert Enrolment.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_my_orders_page_query_count_does_not_grow_with_orders(
    client, learner, annual, paid_order, django_assert_max_num_queries
):
    from django.urls import reverse

    client.force_login(learner)
    learner.refresh_from_db()
    client.get(reverse("orders:list"))  # warm the session/agreement gate
    for i in range(6):
        Order.objects.create(
            number=f"CPE-CLOSED-{i}",
            user=learner,
            product=annual,
            subject=annual.title,
            amount_fen=annual.price_fen,
            validity_days=90,
            status="closed",
            created_at=timezone.now(),
        )
    with django_assert_max_num_queries(8):  # 13 when the year was asked once per order
        assert client.get(reverse("orders:list")).status_code == 200
