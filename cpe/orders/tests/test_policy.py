"""Boundary tables for the buying rules: the second before and after, 29 February, the year
turn in Asia/Shanghai."""

from datetime import datetime, timedelta
from datetime import timezone as dt_tz

import pytest

from cpe.learning import policy as lp
from cpe.orders import policy
from cpe.orders.states import OrderStatus

UTC = dt_tz.utc
PAID = datetime(2028, 2, 28, 16, 30, tzinfo=UTC)  # 2028-02-29 00:30 Shanghai (leap day)


@pytest.mark.parametrize(
    "days,at,contains",
    [
        (90, PAID, True),  # from the payment second
        (90, PAID - timedelta(seconds=1), False),
        (90, PAID + timedelta(days=90) - timedelta(seconds=1), True),
        (90, PAID + timedelta(days=90), False),  # half-open
        (1, PAID + timedelta(hours=23, minutes=59, seconds=59), True),
    ],
)
def test_validity_window(days, at, contains):
    assert lp.validity_window(PAID, days).contains(at) is contains


def test_validity_over_year_turn_and_leap_day():
    paid = datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 Shanghai on 31 Dec
    w = lp.validity_window(paid, 90)
    assert w.end == paid + timedelta(days=90)
    assert lp.validity_window(PAID, 1).end == datetime(2028, 2, 29, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "at,allowed,code",
    [
        (PAID, True, ""),
        (PAID + timedelta(days=7) - timedelta(seconds=1), True, ""),
        (PAID + timedelta(days=7), False, "window_passed"),  # exactly 7 × 24 h later
    ],
)
def test_refund_window(at, allowed, code):
    d = policy.refund_decision(order_status=OrderStatus.PAID, paid_at=PAID, year_complete=False, at=at)
    assert (d.allowed, d.code) == (allowed, code)


@pytest.mark.parametrize(
    "status,year_complete,code",
    [
        (OrderStatus.PAID, True, "year_complete"),
        (OrderStatus.PENDING, False, "not_paid"),
        (OrderStatus.REFUNDED, False, "not_paid"),
        (OrderStatus.CLOSED, False, "not_paid"),
        (OrderStatus.REFUND_REQUESTED, False, "refund_pending"),
    ],
)
def test_refund_refusals(status, year_complete, code):
    d = policy.refund_decision(
        order_status=status, paid_at=PAID, year_complete=year_complete, at=PAID + timedelta(hours=1)
    )
    assert not d.allowed and d.code == code and d.message


def test_refund_window_message_names_the_deadline_in_shanghai():
    d = policy.refund_decision(
        order_status=OrderStatus.PAID, paid_at=PAID, year_complete=False, at=PAID + timedelta(days=8)
    )
    assert "2028-03-07 00:30" in d.message


@pytest.mark.parametrize(
    "age,expired",
    [
        (timedelta(minutes=30) - timedelta(seconds=1), False),
        (timedelta(minutes=30), True),
    ],
)
def test_order_pay_timeout(age, expired):
    assert policy.order_expired(PAID, PAID + age) is expired


@pytest.mark.parametrize(
    "holds,active,open_,allowed,code",
    [
        (False, True, True, True, ""),
        (True, True, True, False, "already_held"),
        (False, False, True, False, "not_on_sale"),
        (False, True, False, False, "not_on_sale"),
    ],
)
def test_purchase(holds, active, open_, allowed, code):
    assert not policy.purchase_decision(
        holds_valid=False, product_active=True, year_open=True, covered_by_annual=True
    ).allowed
    d = policy.purchase_decision(holds_valid=holds, product_active=active, year_open=open_)
    assert (d.allowed, d.code) == (allowed, code)


def test_order_number_is_shanghai_time_and_unique():
    at = datetime(2026, 12, 31, 16, 0, 1, tzinfo=UTC)  # 2027-01-01 00:00:01 Shanghai
    numbers = {policy.order_number(at) for _ in range(200)}
    assert all(n.startswith("CPE20270101000001") and len(n) == 23 for n in numbers)
    assert len(numbers) > 190


END = datetime(2026, 12, 31, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "at,sent,due",
    [
        (END - timedelta(days=7, seconds=1), [], []),
        (END - timedelta(days=7), [], [7]),
        (END - timedelta(days=3), [7], []),
        (END - timedelta(days=1), [7], [1]),
        (END - timedelta(hours=2), [], [7, 1]),  # both missed: both due (the later one is sent)
        (END, [], []),  # expired: nothing
    ],
)
def test_expiry_reminders(at, sent, due):
    assert lp.reminders_due(valid_until=END, already_sent=sent, at=at) == due


@pytest.mark.parametrize(
    "closed,at,state",
    [
        (False, PAID, "valid"),
        (False, PAID + timedelta(days=90), "expired"),
        (True, PAID, "closed"),
        (False, PAID - timedelta(seconds=1), "not_started"),
    ],
)
def test_enrolment_state(closed, at, state):
    assert lp.enrolment_state(closed=closed, window=lp.validity_window(PAID, 90), at=at) == state


@pytest.mark.parametrize(
    "gateway_status,view",
    [
        ("pending", policy.UNPAID),
        ("closed", policy.UNPAID),
        ("not_found", policy.UNPAID),
        (None, policy.WAITING),  # the gateway could not be asked: no answer, so no claim of failure
    ],
)
def test_pending_order_view_says_failed_only_on_the_gateways_word(gateway_status, view):
    assert policy.pending_order_view(gateway_status) == view


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148"
)
ANDROID_WECHAT = (
    "Mozilla/5.0 (Linux; Android 14; V2301A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 "
    "Mobile Safari/537.36 MicroMessenger/8.0.47"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
    "Safari/537.36"
)


@pytest.mark.parametrize("ua,phone", [(IPHONE, True), (ANDROID_WECHAT, True), (DESKTOP, False), ("", False)])
def test_channels_by_device_never_offer_a_qr_code_or_the_computer_cashier_on_a_phone(ua, phone):
    from cpe.orders.states import Channel

    offered = policy.channels_for(phone=policy.is_phone_user_agent(ua))
    if phone:
        assert offered == (Channel.ALIPAY_WAP, Channel.WECHAT_H5)
    else:
        assert offered == (Channel.ALIPAY_PAGE, Channel.WECHAT_NATIVE)
    assert all(policy.channel_accepted(c) for c in Channel.values)
    assert not policy.channel_accepted("alipay_app") and not policy.channel_accepted("")
