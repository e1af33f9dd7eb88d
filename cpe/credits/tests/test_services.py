"""The ledger: recorded on a pass, once; the year's completion certificate; refunds revoke."""

import pytest
from django.utils import timezone

from cpe.credits import selectors, services
from cpe.credits.models import Certificate, CreditRecord
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters
from cpe.orders.selectors import year_task_complete
from cpe.orders.tests.factories import pay

pytestmark = pytest.mark.django_db


def test_year_completion_and_certificate(learner, year, paid):
    p1, p2, g1 = (
        make_course(year, "P1", hours=40),
        make_course(year, "P2", hours=24),
        make_course(year, "G1", category="public", hours=30),
    )
    for c in (p1, g1):
        complete_chapters(learner, c)
        pass_course(learner, c)
    st = selectors.year_status_for(learner, year)
    assert (st.total_hours, st.professional_hours, st.complete) == (70, 40, False)
    assert st.planner_line == "还需 20 学时，其中专业科目 20 学时"
    assert not year_task_complete(learner, year)
    assert not Certificate.objects.filter(kind="year").exists()
    complete_chapters(learner, p2)
    pass_course(learner, p2)
    assert year_task_complete(learner, year)
    cert = Certificate.objects.get(kind="year")
    assert (cert.hours, cert.professional_hours, cert.public_hours, cert.credits, cert.status) == (
        94,
        64,
        30,
        94,
        "valid",
    )
    assert Certificate.objects.filter(kind="course").count() == 3


def test_refund_revokes_credits_and_certificates(learner, year, paid, django_user_model):
    reviewer = django_user_model.objects.create_user("rev", "x", name="审核", is_staff=True)
    c = make_course(year, "P1", hours=90)
    complete_chapters(learner, c)
    pass_course(learner, c)
    rec = CreditRecord.objects.get()
    course_cert, year_cert = rec.certificate, Certificate.objects.get(kind="year")
    assert year_task_complete(learner, year)
    # A completed year cannot be refunded (orders.policy); undo completion to test the revocation path
    # the way a staff-approved refund of a not-yet-complete year runs.
    from cpe.credits.services import credits_revoke_for_order

    credits_revoke_for_order(order=paid, reason="订单退款 RF1", at=timezone.now(), actor=reviewer)
    rec.refresh_from_db(), course_cert.refresh_from_db(), year_cert.refresh_from_db()
    assert (rec.status, rec.revoke_reason) == ("revoked", "订单退款 RF1") and rec.revoked_at
    assert course_cert.status == "revoked" and year_cert.status == "revoked"
    assert not Certificate.objects.filter(status="valid").exists()
    assert list(selectors.revocations()) == [rec]
    assert list(selectors.records_to_report()) == []
    # Revoking again changes nothing.
    services.credit_record_revoke(record=rec, reason="再次", at=timezone.now())
    rec.refresh_from_db()
    assert rec.revoke_reason == "订单退款 RF1"


@pytest.mark.django_db(transaction=True)
def test_refund_through_the_orders_service_revokes(live_server, settings, learner, year, django_user_model):
    """Paid and refunded through the sandbox gateway (the real adapters, over HTTP)."""
    from django.urls import reverse

    from cpe.orders import services as order_services
    from cpe.orders.states import Channel
    from cpe.sandbox.testing import sandbox_pay, stop_retries

    settings.SITE_URL = live_server.url
    order = order_services.order_create(user=learner, product_code="2026-ANNUAL")
    start = order_services.payment_start(
        order=order,
        channel=Channel.ALIPAY_PAGE,
        notify_url=live_server.url + reverse("orders:notify", args=["alipay"]),
        return_url=live_server.url + "/done/",
    )
    sandbox_pay(pay_url=start.url)
    reviewer = django_user_model.objects.create_user("rev", "x", name="审核", is_staff=True)
    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    assert not year_task_complete(learner, year)
    refund = order_services.refund_request(user=learner, order_number=order.number, reason="不想学了")
    refund = order_services.refund_approve(refund_id=refund.pk, reviewer=reviewer, note="同意")
    assert refund.status == "succeeded"
    rec = CreditRecord.objects.get()
    assert rec.status == "revoked" and rec.revoke_reason.startswith("订单退款 RF")
    assert rec.certificate.status == "revoked"
    stop_retries()


def test_revocation_reissues_year_certificate_when_still_complete(learner, year, paid):
    c1, c2 = make_course(year, "P1", hours=90), make_course(year, "P2", hours=10)
    for c in (c1, c2):
        complete_chapters(learner, c)
        pass_course(learner, c)
    first = Certificate.objects.get(kind="year", status="valid")
    assert first.hours == 90  # issued when P1 completed the year
    rec2 = CreditRecord.objects.get(course=c2)
    services.credit_record_revoke(record=rec2, reason="数据更正", at=timezone.now())
    first.refresh_from_db()
    assert first.status == "revoked"
    new = Certificate.objects.get(kind="year", status="valid")
    assert new.number != first.number and new.hours == 90


def test_rebuy_after_refund_records_again(learner, year, paid):
    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    services.credits_revoke_for_order(order=paid, reason="退款", at=timezone.now())
    from cpe.learning.models import Enrolment

    Enrolment.objects.filter(order=paid).update(status="closed", closed_at=timezone.now())
    from cpe.orders.models import Order

    Order.objects.filter(pk=paid.pk).update(status="refunded")
    pay(learner)
    pass_course(learner, c)
    assert CreditRecord.objects.filter(status="active").count() == 1
    assert CreditRecord.objects.count() == 2


def test_hook_called_inside_the_transaction(learner, year, paid, monkeypatch):
    seen = []
    monkeypatch.setattr(services, "credit_record_created", lambda r: seen.append(r.uid))
    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    assert seen == [CreditRecord.objects.get().uid]
