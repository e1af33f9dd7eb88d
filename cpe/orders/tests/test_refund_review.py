"""Finance judges a refund on evidence: the review shows the learner's progress, exams, credits
and their AIS state, and the policy's reasons; the learner is told beforehand (refund page,
order list) and in the SMS that credits earned are revoked and reversed at the AIS."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from cpe.core.timewin import LOCAL_TZ
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters
from cpe.orders import policy
from cpe.orders.services import refund_request
from cpe.orders.tests.factories import pay

# Certificates and PDFs go to the test's temporary MEDIA_ROOT (cpe/conftest.py).
pytestmark = pytest.mark.usefixtures("media_in_tmp")

PAID = datetime(2026, 5, 1, 10, 0, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(
    "asked, complete, code, allowed",
    [
        (PAID + timedelta(days=7) - timedelta(seconds=1), False, "refundable", True),
        (PAID + timedelta(days=7), False, "window_passed", False),  # the window is half-open
        (PAID + timedelta(hours=1), True, "year_complete", False),
    ],
)
def test_review_verdict_and_its_reasons(asked, complete, code, allowed):
    r = policy.refund_review(
        paid_at=PAID,
        requested_at=asked,
        year_complete=complete,
        earned_hours=24,
        required_hours=90,
        records=1,
        record_hours=24,
        records_reported=1,
    )
    assert (r.code, r.allowed) == (code, allowed)
    assert "截止 2026-05-08 10:00" in r.reasons[0]
    assert "有效学时 24 / 要求 90" in r.reasons[1]
    assert r.consequences == (
        "批准后将撤销该订单下已取得的 1 条学时记录（共 24 学时）及其学时证明；"
        "其中 1 条已上报 AIS，将向 AIS 发送撤回。",
    )


def test_review_without_credits_says_nothing_is_revoked():
    r = policy.refund_review(
        paid_at=PAID,
        requested_at=PAID,
        year_complete=False,
        earned_hours=0,
        required_hours=90,
        records=0,
        record_hours=0,
        records_reported=0,
    )
    assert r.consequences == ("该订单下尚无学时记录，批准后不涉及学时撤销。",)
    assert policy.refund_credits_sms_line(0) == ""
    assert "AIS 撤回" in policy.refund_credits_sms_line(2)


@pytest.fixture
def studied(db, learner, year):
    """A paid annual course: P1 watched and passed (24 h credited and reported to the AIS),
    P2 half watched and never examined; then a refund request."""
    from cpe.credits.models import CreditRecord
    from cpe.reporting.models import AisReport
    from cpe.reporting.states import ReportKind, ReportState

    order = pay(learner)
    p1, p2 = make_course(year, "P1", hours=24), make_course(year, "P2", hours=30, chapters=2)
    complete_chapters(learner, p1)
    pass_course(learner, p1)
    from cpe.learning.services import play_heartbeat, play_start

    ch = p2.chapters.order_by("position").first()
    at = timezone.now()
    s = play_start(user=learner, chapter_id=ch.pk, at=at)
    play_heartbeat(
        user=learner,
        key=s.key,
        seq=1,
        start=0,
        position=ch.duration_seconds,
        at=at + timedelta(seconds=ch.duration_seconds + 1),
    )
    record = CreditRecord.objects.get(course=p1)
    # The AIS acknowledged the credit (the outbox row exists; its sending is not under test here).
    assert (
        AisReport.objects.filter(record=record, kind=ReportKind.CREDIT).update(
            state=ReportState.SENT, receipt_no="R-0001", sent_at=at
        )
        == 1
    )
    refund = refund_request(user=learner, order_number=order.number, reason="工作调动")
    return refund


@pytest.fixture
def finance_client(client, django_user_model):
    from cpe.backoffice.services import roles_sync

    roles_sync()
    staff = django_user_model.objects.create_user("fin", "Fin-pass-2026", is_staff=True, name="财务甲")
    staff.groups.add(Group.objects.get(name="财务人员"))
    client.force_login(staff)
    return client


def test_refund_review_shows_progress_exams_credits_ais_and_verdict(studied, finance_client):
    html = finance_client.get(reverse("admin:orders_refund_change", args=[studied.pk])).content.decode()
    assert "AIS 人员状态：<strong>已纳入</strong>" in html
    # P1: both chapters, passed, 24 h recorded and reported; P2: one of two chapters, no exam.
    p1 = html[html.index("P1 课程P1") : html.index("</tr>", html.index("P1 课程P1"))]
    assert "2 / 2" in p1 and "已合格" in p1 and "24 学时" in p1 and "已上报" in p1
    p2 = html[html.index("P2 课程P2") : html.index("</tr>", html.index("P2 课程P2"))]
    assert "1 / 2" in p2 and "未参加" in p2 and "无" in p2
    assert "90 学时中已取得 24 学时" in html
    assert "符合退款条件" in html and "该年度学习任务未完成（有效学时 24 / 要求 90）" in html
    assert "其中 1 条已上报 AIS，将向 AIS 发送撤回" in html
    # Reading the evidence decides nothing.
    studied.refresh_from_db()
    assert studied.status == "requested"


def test_learner_is_told_before_asking(learner, year, client):
    order = pay(learner)
    p1 = make_course(year, "P1", hours=24)
    complete_chapters(learner, p1)
    pass_course(learner, p1)
    client.force_login(learner)
    html = client.get(reverse("orders:refund", args=[order.number])).content.decode()
    assert policy.REFUND_CREDITS_NOTICE in html
    assert "已取得 1 条学时记录（共 24 学时）" in html and "退款成功后将被撤销" in html
    listing = client.get(reverse("orders:list")).content.decode()
    assert "申请退款" in listing and policy.REFUND_CREDITS_NOTICE in listing


@pytest.mark.django_db(transaction=True)
def test_refund_sms_says_credits_are_revoked_and_reversed(
    live_server, settings, learner, year, django_user_model
):
    """Paid and refunded through the sandbox gateway (the real adapters, over HTTP)."""
    from cpe.notices.models import OutboundMessage
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
    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    reviewer = django_user_model.objects.create_user("rev", "x", name="审核", is_staff=True)
    refund = order_services.refund_request(user=learner, order_number=order.number, reason="不想学了")
    assert (
        order_services.refund_approve(refund_id=refund.pk, reviewer=reviewer, note="同意").status
        == "succeeded"
    )
    sms = OutboundMessage.objects.get(event="refund.succeeded", channel="sms")
    assert "已退款" in sms.body and "1 条学时记录已撤销" in sms.body and "在 AIS 撤回" in sms.body
    stop_retries()


@pytest.mark.parametrize(
    "passed, best, in_progress, label",
    [
        (False, None, False, "未参加"),
        (False, None, True, "考试中"),
        (False, 40, True, "考试中（此前最高 40 分）"),
        (False, 40, False, "未合格（最高 40 分）"),
        (True, 80, False, "已合格（80 分）"),
    ],
)
def test_exam_evidence_label(passed, best, in_progress, label):
    assert policy.exam_evidence_label(passed=passed, best_score=best, in_progress=in_progress) == label


def test_refund_review_says_an_open_attempt_is_in_progress(studied, finance_client):
    from cpe.catalog.models import Course
    from cpe.exams.models import Attempt

    p2 = Course.objects.get(code="P2")
    now = timezone.now()
    Attempt.objects.create(
        user=studied.order.user,
        course=p2,
        enrolment=studied.order.enrolment,
        number=1,
        started_at=now,
        deadline=now + timedelta(minutes=60),
        pass_mark=60,
    )
    html = finance_client.get(reverse("admin:orders_refund_change", args=[studied.pk])).content.decode()
    p2_row = html[html.index("P2 课程P2") : html.index("</tr>", html.index("P2 课程P2"))]
    assert '<td style="white-space:nowrap">考试中</td>' in p2_row and "未参加" not in p2_row


def _complete_the_year(learner, year):
    """P1 (24 h) is passed by `studied`; 66 more professional hours reach the year's 90."""
    p3 = make_course(year, "P3", hours=66)
    complete_chapters(learner, p3)
    pass_course(learner, p3)


def test_a_request_cannot_be_approved_once_the_year_was_completed_while_it_waited(
    studied, learner, year, django_user_model
):
    """Agreement §2.5 (rules R5.1-R5.2): not having completed the year's task is a condition of
    the refund, not only of asking; the service refuses and changes nothing."""
    from cpe.credits.models import CreditRecord, RecordStatus
    from cpe.orders.errors import OrderError
    from cpe.orders.services import refund_approve

    _complete_the_year(learner, year)
    reviewer = django_user_model.objects.create_user("rev2", "x", name="审核", is_staff=True)
    with pytest.raises(OrderError) as e:
        refund_approve(refund_id=studied.pk, reviewer=reviewer, note="同意")
    assert e.value.code == "year_complete" and "已完成该年度学习任务" in e.value.message
    assert "请驳回" in e.value.message
    studied.refresh_from_db()
    studied.order.refresh_from_db()
    assert studied.status == "requested" and studied.decided_by is None
    assert studied.order.status == "refund_requested"
    assert CreditRecord.objects.filter(user=learner, status=RecordStatus.ACTIVE).count() == 2


def test_refund_review_offers_only_reject_once_the_year_is_complete(studied, learner, year, finance_client):
    url = reverse("admin:orders_refund_change", args=[studied.pk])
    assert 'name="_approve"' in finance_client.get(url).content.decode()
    _complete_the_year(learner, year)
    html = finance_client.get(url).content.decode()
    assert "不符合：学员已完成该年度学习任务" in html
    assert 'name="_approve"' not in html and "不能批准：" in html and 'name="_reject"' in html
    # A stale page's approve button is refused by the service, with its reason, and nothing changes.
    r = finance_client.post(url, {"_approve": "1", "decision_note": "同意"}, follow=True)
    assert "在申请待审期间已完成该年度学习任务" in r.content.decode()
    studied.refresh_from_db()
    assert studied.status == "requested"


@pytest.mark.parametrize(
    "asked, complete, code",
    [
        (PAID + timedelta(days=7) - timedelta(seconds=1), False, ""),
        (PAID + timedelta(days=7), False, "window_passed"),
        (PAID + timedelta(hours=1), True, "year_complete"),
    ],
)
def test_refund_approval_decision(asked, complete, code):
    d = policy.refund_approval_decision(paid_at=PAID, requested_at=asked, year_complete=complete)
    assert (d.allowed, d.code) == (not code, code)
