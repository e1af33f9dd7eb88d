"""Invoice services on a real database: what changes, and what must not when refused."""

import os
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cpe.core.audit import audit_verify
from cpe.core.models import AuditEvent
from cpe.invoicing import selectors, services
from cpe.invoicing.errors import InvoiceError
from cpe.invoicing.models import Invoice, LocalInvoiceNumber
from cpe.invoicing.states import InvoiceKind, InvoiceStatus
from cpe.notices.models import OutboundMessage
from cpe.orders.models import Order

from .factories import make_order

pytestmark = pytest.mark.django_db

ENTERPRISE_ID = "914403001922038216"


def utc(*args):
    return datetime(*args, tzinfo=dt_timezone.utc)


PAID = utc(2025, 6, 1, 2)
SOON = utc(2025, 6, 3, 1)


def _media_files(settings):
    root = settings.MEDIA_ROOT
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs) if os.path.isdir(root) else []


def _snapshot(settings, order=None):
    snap = (
        Invoice.objects.count(),
        AuditEvent.objects.count(),
        OutboundMessage.objects.count(),
        LocalInvoiceNumber.objects.count(),
        _media_files(settings),
    )
    if order is not None:
        order.refresh_from_db()
        snap += (order.status,)
    return snap


def _personal(user, order, at=SOON, **kw):
    return services.invoice_request(
        user=user,
        order_number=order.number,
        buyer_type="personal",
        buyer_name=kw.pop("buyer_name", ""),
        unit_kind="",
        taxpayer_id="",
        at=at,
        **kw,
    )


def test_personal_invoice_issued_with_audit_email_and_pdf(learner, settings):
    order = make_order(learner, paid_at=PAID)
    inv = _personal(learner, order, buyer_name="冒名顶替")  # a posted name is ignored
    assert inv.kind == InvoiceKind.BLUE and inv.status == InvoiceStatus.ISSUED
    assert len(inv.number) == 20 and inv.number.isdigit() and inv.number.startswith("2515")
    assert (inv.buyer_type, inv.buyer_name, inv.taxpayer_id, inv.unit_kind) == ("personal", "张三", "", "")
    assert (inv.total_fen, inv.net_fen, inv.tax_fen, inv.tax_rate_permille) == (19800, 18679, 1121, 60)
    assert inv.issued_at == SOON and inv.item_name == "*教育服务*非学历教育培训服务"
    assert inv.seller_name == services.DEMO_SELLER_NAME
    assert inv.pdf.name.startswith(f"invoices/2025/{inv.number}-") and inv.pdf.size > 1000
    assert len(inv.verify_token) >= 32
    ev = AuditEvent.objects.get(event_type="invoice.issued", subject_id=str(inv.pk))
    assert ev.data["number"] == inv.number and ev.data["buyer_name"] == "张*"
    assert ev.actor_id == learner.pk
    assert audit_verify().ok
    msg = OutboundMessage.objects.get(event="invoice.ready")
    assert (
        msg.to == "zhangsan@example.com"
        and inv.number in msg.body
        and "https://cpe.example.cn/invoices/" in msg.body
    )


def test_second_request_refused_and_changes_nothing(learner, settings):
    order = make_order(learner, paid_at=PAID)
    first = _personal(learner, order)
    before = _snapshot(settings, order)
    with pytest.raises(InvoiceError) as exc:
        services.invoice_request(
            user=learner,
            order_number=order.number,
            buyer_type="unit",
            buyer_name="包头市某公司",
            unit_kind="enterprise",
            taxpayer_id=ENTERPRISE_ID,
            at=SOON,
        )
    assert exc.value.code == "already_invoiced" and "只能开具一张" in exc.value.message
    assert _snapshot(settings, order) == before
    assert Invoice.objects.get().pk == first.pk


@pytest.mark.parametrize(
    "status,code",
    [
        ("refunded", "refunded"),
        ("refund_requested", "refund_pending"),
        ("pending", "not_paid"),
        ("closed", "not_paid"),
    ],
)
def test_order_not_invoiceable_refused_and_changes_nothing(learner, settings, status, code):
    order = make_order(learner, paid_at=PAID, status=status)
    before = _snapshot(settings, order)
    with pytest.raises(InvoiceError) as exc:
        _personal(learner, order)
    assert exc.value.code == code
    assert _snapshot(settings, order) == before


def test_past_cutoff_refused_with_date(learner, settings):
    order = make_order(learner, paid_at=PAID)
    before = _snapshot(settings, order)
    with pytest.raises(InvoiceError) as exc:
        _personal(learner, order, at=utc(2026, 3, 31, 16))  # 1 April 00:00 Shanghai
    assert exc.value.message == "2025 年度的订单开票截止于 2026-03-31，现已不能开具。"
    assert _snapshot(settings, order) == before
    assert _personal(learner, order, at=utc(2026, 3, 31, 15, 59, 59)).number  # the second before


def test_unit_enterprise_needs_taxpayer_id(learner, settings):
    order = make_order(learner, paid_at=PAID)
    before = _snapshot(settings, order)
    for tid, code in [("", "taxpayer_id_required"), ("914403001922038217", "uscc_checksum")]:
        with pytest.raises(InvoiceError) as exc:
            services.invoice_request(
                user=learner,
                order_number=order.number,
                buyer_type="unit",
                buyer_name="包头市某会计师事务所有限公司",
                unit_kind="enterprise",
                taxpayer_id=tid,
                at=SOON,
            )
        assert (exc.value.code, exc.value.field) == (code, "taxpayer_id")
    assert _snapshot(settings, order) == before
    inv = services.invoice_request(
        user=learner,
        order_number=order.number,
        buyer_type="unit",
        buyer_name="包头市某会计师事务所有限公司",
        unit_kind="enterprise",
        taxpayer_id=ENTERPRISE_ID.lower(),
        at=SOON,
    )
    assert (inv.buyer_name, inv.taxpayer_id, inv.unit_kind) == (
        "包头市某会计师事务所有限公司",
        ENTERPRISE_ID,
        "enterprise",
    )


def test_public_institution_without_taxpayer_id(learner):
    order = make_order(learner, paid_at=PAID)
    inv = services.invoice_request(
        user=learner,
        order_number=order.number,
        buyer_type="unit",
        buyer_name="包头市财政局",
        unit_kind="public",
        taxpayer_id="",
        at=SOON,
    )
    assert (inv.buyer_type, inv.taxpayer_id, inv.unit_kind) == ("unit", "", "public")


def test_another_users_order_is_not_found(learner, other_learner, settings):
    order = make_order(learner, paid_at=PAID)
    before = _snapshot(settings, order)
    with pytest.raises(InvoiceError) as exc:
        _personal(other_learner, order)
    assert exc.value.code == "order_not_found"
    assert _snapshot(settings, order) == before


def test_provider_failure_changes_nothing_and_leaves_no_file(learner, settings):
    order = make_order(learner, paid_at=PAID)
    before = _snapshot(settings, order)
    for mode, code in [("unavailable", "provider_unavailable"), ("reject", "provider_rejected")]:
        settings.INVOICE_LOCAL_FAIL = mode
        with pytest.raises(InvoiceError) as exc:
            _personal(learner, order)
        assert exc.value.code == code
    assert _snapshot(settings, order) == before


def test_failure_after_pdf_written_removes_the_file(learner, settings, monkeypatch):
    order = make_order(learner, paid_at=PAID)
    before = _snapshot(settings, order)

    def boom(*a, **kw):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "audit_record", boom)
    with pytest.raises(RuntimeError):
        _personal(learner, order)
    assert _snapshot(settings, order) == before


def test_no_email_when_address_not_verified(other_learner):
    order = make_order(other_learner, paid_at=PAID)
    _personal(other_learner, order)
    assert not OutboundMessage.objects.filter(event="invoice.ready").exists()


def test_tax_rate_from_settings(learner, settings):
    settings.INVOICE_TAX_RATE_PERMILLE = 30
    settings.INVOICE_SELLER_NAME = "某某培训中心有限公司"
    order = make_order(learner, paid_at=PAID, amount_fen=10000)
    inv = _personal(learner, order)
    assert (inv.tax_rate_permille, inv.tax_fen, inv.net_fen, inv.seller_name) == (
        30,
        291,
        9709,
        "某某培训中心有限公司",
    )


def test_numbers_are_unique_across_orders(learner):
    numbers = {_personal(learner, make_order(learner, paid_at=PAID)).number for _ in range(3)}
    assert len(numbers) == 3


# --- reversal (rules R5.2) -------------------------------------------------------------------
def test_reversal_issues_red_marks_blue_and_is_idempotent(learner, settings):
    order = make_order(learner, paid_at=PAID)
    blue = _personal(learner, order)
    Order.objects.filter(pk=order.pk).update(status="refunded")
    at = SOON + timedelta(days=2)
    red = services.invoice_reverse_for_order(order=order, reason="学员申请退款", at=at)
    assert red.kind == InvoiceKind.RED and red.original_id == blue.pk and red.number != blue.number
    assert (red.total_fen, red.net_fen, red.tax_fen) == (-19800, -18679, -1121)
    assert (red.buyer_name, red.reason, red.issued_at) == ("张三", "学员申请退款", at)
    assert red.pdf.size > 1000
    blue.refresh_from_db()
    assert blue.status == InvoiceStatus.REVERSED and blue.reversed_at == at
    ev = AuditEvent.objects.get(event_type="invoice.reversed")
    assert ev.data["red_number"] == red.number and ev.data["new"] == {"status": "reversed"}
    assert OutboundMessage.objects.filter(event="invoice.reversed").count() == 1
    assert audit_verify().ok

    before = _snapshot(settings, order)
    assert services.invoice_reverse_for_order(order=order, reason="再次调用", at=at) is None
    assert _snapshot(settings, order) == before
    with pytest.raises(InvoiceError) as exc:
        _personal(learner, order)
    assert exc.value.code == "refunded"


def test_reversal_without_invoice_does_nothing(learner, settings):
    order = make_order(learner, paid_at=PAID, status="refunded")
    before = _snapshot(settings, order)
    assert services.invoice_reverse_for_order(order=order, reason="退款") is None
    assert _snapshot(settings, order) == before


def test_reversal_failure_is_swept_later(learner, settings):
    order = make_order(learner, paid_at=PAID)
    blue = _personal(learner, order)
    settings.INVOICE_LOCAL_FAIL = "unavailable"
    with pytest.raises(InvoiceError):
        services.invoice_reverse_for_order(order=order, reason="退款")
    Order.objects.filter(pk=order.pk).update(status="refunded")  # the refund went through anyway
    blue.refresh_from_db()
    assert blue.status == InvoiceStatus.ISSUED
    assert services.invoice_reverse_pending() == []  # still failing: nothing done
    settings.INVOICE_LOCAL_FAIL = ""
    done = services.invoice_reverse_pending()
    assert [r.original_id for r in done] == [blue.pk]
    assert services.invoice_reverse_pending() == []


# --- the model's guarantees -----------------------------------------------------------------
def test_invoice_is_immutable_except_reversal(learner):
    inv = _personal(learner, make_order(learner, paid_at=PAID))
    inv.buyer_name = "改名"
    with pytest.raises(ValueError):
        inv.save()
    with pytest.raises(ValueError):
        inv.save(update_fields=["buyer_name"])
    inv.refresh_from_db()
    assert inv.buyer_name == "张三"


def test_database_allows_one_valid_blue_invoice_per_order(learner):
    inv = _personal(learner, make_order(learner, paid_at=PAID))
    fields = {
        f.name: getattr(inv, f.name)
        for f in Invoice._meta.fields
        if f.name not in ("id", "number", "verify_token")
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(**{**fields, "number": "25150000000000099999"})


# --- selectors ------------------------------------------------------------------------------
def test_invoice_state_for_orders_in_one_query(learner, other_learner, django_assert_num_queries):
    now = timezone.now()
    invoiced = make_order(learner, paid_at=now - timedelta(hours=2))
    _personal(learner, invoiced, at=now)
    fresh = make_order(learner, paid_at=now - timedelta(hours=1))
    old = make_order(learner, paid_at=now - timedelta(days=500))
    refund = make_order(learner, paid_at=now - timedelta(hours=1), status="refund_requested")
    foreign = make_order(other_learner, paid_at=now - timedelta(hours=1))
    orders = list(Order.objects.filter(pk__in=[invoiced.pk, fresh.pk, old.pk, refund.pk, foreign.pk]))
    with django_assert_num_queries(1):
        states = selectors.invoice_state_for_orders(learner, orders, at=now)
    assert foreign.pk not in states
    assert states[invoiced.pk].code == "already_invoiced" and states[invoiced.pk].invoice is not None
    assert states[fresh.pk].can_request and states[fresh.pk].invoice is None
    assert states[old.pk].code == "past_cutoff" and "现已不能开具" in states[old.pk].message
    assert states[refund.pk].code == "refund_pending"
