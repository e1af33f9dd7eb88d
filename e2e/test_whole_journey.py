"""A new learner's whole journey in one browser test, on a phone (375 px, an iPhone user agent):
register, verify the e-mail address by the link in the e-mail (absolute, opened as a mail app
would), buy the annual course with Alipay's mobile website pay, watch a chapter with a second tab
opened midway (both tabs' honest seconds count), fail and then pass the exam (each 交卷 asks
first), download the certificate, request an invoice, and be refused a refund because the year's
task is complete. Setup shortcut: the other courses' chapters and exams go through the services
(the learning and exam journeys cover those pages), so this stays short."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from cpe.accounts.tests.factories import last_code, make_id_number
from cpe.backoffice.demo import course_code
from cpe.catalog.tests.factories import this_year
from e2e.test_buying_journeys import _nav, _product_row, _radio_labels
from e2e.test_exam_journey import _answer
from e2e.test_learning_journey import _flushed_progress, _play

PHONE = (375, 812)
PASSWORD = "Wu-lan-cha-bu-88"
NAME = "乌兰图雅"
MOBILE = "13712349901"
EMAIL = "wulan@example.com"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed"),
]


def test_whole_journey_on_a_phone(new_phone_page, screenshot, demo_accounts, live_server, settings, tmp_path):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.credits.models import Certificate
    from cpe.exams.models import Attempt
    from cpe.exams.tests.factories import pass_course
    from cpe.invoicing.models import Invoice
    from cpe.learning.demo import make_demo_video
    from cpe.learning.models import PlaySession, SuspiciousEvent
    from cpe.learning.tests.factories import complete_chapters
    from cpe.notices.models import Channel, OutboundMessage
    from cpe.orders.models import Order, Refund
    from cpe.sandbox.testing import stop_retries

    settings.SITE_URL = live_server.url  # the gateway adapters and every message link
    settings.LEARNING_HEARTBEAT_SECONDS = 2
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    year = this_year()
    courses = {c.code: c for c in Course.objects.filter(year__year=year)}
    course = courses[course_code(year, "P01")]
    first = course.chapters.order_by("position").first()
    assert make_demo_video(first, seconds=12).status == "ready"

    # 1. Register on the phone (the SMS code read back from the outbox).
    phone = new_phone_page(*PHONE)
    phone.goto("/accounts/register/")
    field = lambda label: phone.get_by_label(label, exact=True)  # noqa: E731
    field("身份证号码").fill(make_id_number(birth="19890412", area="150102", seq="377"))
    field("姓名").fill(NAME)
    field("电子邮箱").fill(EMAIL)
    field("手机号码").fill(MOBILE)
    field("工作单位").fill("呼和浩特市某会计师事务所")
    field("会计人员信息管理地区").select_option(label="呼和浩特市")
    field("密码").fill(PASSWORD)
    field("确认密码").fill(PASSWORD)
    phone.get_by_role("button", name="获取验证码").click()
    expect(phone.locator("#code-status")).to_contain_text("验证码已发送")
    field("短信验证码").fill(last_code(MOBILE))
    phone.get_by_role("checkbox", name=re.compile("我已阅读并同意")).check()
    phone.get_by_role("button", name="注册", exact=True).click()
    expect(phone).to_have_url(re.compile(r"/accounts/dashboard/$"))
    learner = User.objects.get(name=NAME)

    # 2. The e-mail's link is absolute (the platform's address) and verifies the address.
    mail = next(
        m
        for m in OutboundMessage.objects.filter(channel=Channel.EMAIL, event="email.verify").order_by("-id")
        if m.to == EMAIL
    )
    link = re.search(r"https?://\S+", mail.body).group(0)
    assert link.startswith(live_server.url + "/accounts/email/confirm/"), mail.body
    assert not re.search(r"(?<![\w:/.])/accounts/", mail.body.replace(link, "")), "a bare path in the e-mail"
    phone.goto(link)
    expect(phone.get_by_role("heading", name="电子邮箱已验证")).to_be_visible()
    learner.refresh_from_db()
    assert learner.email_verified_at is not None

    # 3. Buy the annual course on the phone: phone channels only, Alipay's mobile website pay.
    _nav(phone, "选课").click()
    _product_row(phone, f"{year} 年度会计人员继续教育课程").get_by_role("link", name="购买").click()
    assert _radio_labels(phone) == ["支付宝（手机网站支付）", "微信支付（H5 支付）"]
    phone.get_by_role("checkbox", name="我已知晓上述情况，仍要购买").check()  # not in the AIS (yet)
    phone.get_by_role("radio", name="支付宝（手机网站支付）").check()
    phone.get_by_role("button", name=re.compile(r"^去支付")).click()
    expect(phone).to_have_url(re.compile(r"/sandbox/pay/[\w-]+/$"))
    phone.get_by_role("button", name="支付成功").click()
    expect(phone.get_by_role("heading", name="支付成功")).to_be_visible()
    order = Order.objects.get(user=learner)
    assert (order.status, order.channel) == ("paid", "alipay_wap")
    # The catalogue now says it is bought and leads to the course instead of 购买.
    _nav(phone, "选课").click()
    row = _product_row(phone, f"{year} 年度会计人员继续教育课程")
    expect(row).to_contain_text("已购买")
    expect(row.get_by_role("link", name="购买")).to_have_count(0)
    screenshot(phone, "journey-catalog-bought-375")
    row.get_by_role("link", name="去学习").click()
    expect(phone).to_have_url(re.compile(r"/accounts/dashboard/$"))

    # Setup shortcut: the other four courses (66 hours) completed and passed through the services.
    for suffix in ("P02", "P03", "G01", "G02"):
        complete_chapters(learner, courses[course_code(year, suffix)])
        pass_course(learner, courses[course_code(year, suffix)])

    # 4. Watch the first chapter; a second tab opens midway and finishes it. The first tab keeps
    #    what it played until then, the chapter completes, and nothing is called a speed claim.
    phone.goto(f"/learn/chapter/{first.pk}/")
    expect(phone.locator("#status")).to_contain_text("点击播放")
    _play(phone)
    phone.wait_for_function("() => document.getElementById('video').currentTime > 5", timeout=20_000)
    second_tab = phone.context.new_page()
    second_tab.goto(f"/learn/chapter/{first.pk}/")
    expect(phone.locator("#status")).to_contain_text("其他窗口或设备", timeout=10_000)
    _play(second_tab)
    expect(second_tab.locator("#chapter-state")).to_contain_text("本章节已完成", timeout=40_000)
    expect(second_tab.locator("#status")).to_contain_text("已播放完毕")
    screenshot(second_tab, "journey-chapter-complete-375")
    progress = _flushed_progress(learner, first)
    old, new = PlaySession.objects.filter(user=learner, chapter=first).order_by("started_at")
    assert old.credited_seconds >= 3 and new.credited_seconds >= 5, (
        old.credited_seconds,
        new.credited_seconds,
    )
    assert progress.completed_at is not None
    assert not SuspiciousEvent.objects.filter(user=learner, kind="rate").exists()
    second_tab.close()
    complete_chapters(learner, course)  # the remaining chapters (the first one is already complete)

    # 5. The exam: fail (交卷 asks first), retake, pass. The course no longer says 学习中.
    phone.goto(f"/learn/course/{course.pk}/")
    phone.get_by_role("link", name="【我要考试】").click()
    phone.get_by_role("button", name="开始考试").click()
    attempt = Attempt.objects.get(user=learner, course=course)
    _answer(phone, attempt, right=False)
    phone.get_by_role("button", name="交卷").click()
    ask = phone.get_by_role("dialog", name="确认交卷")
    expect(ask).to_contain_text("全部 30 题均已作答")
    ask.get_by_role("button", name="确认交卷").click()
    expect(phone.locator("#verdict")).to_contain_text("不合格")
    phone.get_by_role("link", name="再考一次").click()
    phone.get_by_role("button", name="开始考试").click()
    _answer(phone, Attempt.objects.get(user=learner, course=course, status="open"), right=True)
    phone.get_by_role("button", name="交卷").click()
    phone.get_by_role("dialog", name="确认交卷").get_by_role("button", name="确认交卷").click()
    expect(phone.locator("#verdict")).to_contain_text("合格")
    _nav(phone, "我的学习").click()
    annual = phone.locator("ul.enrolments > li", has_text=f"{year} 年度会计人员继续教育课程")
    expect(annual.locator(".badge").first).to_have_text("已完成（考试已通过）")
    expect(annual).not_to_contain_text("学习中")
    screenshot(phone, "journey-dashboard-passed-375")

    # 6. The year's certificate.
    phone.goto(f"/credits/year/{year}/")
    with phone.expect_download() as dl:
        phone.get_by_role("link", name=f"下载 {year} 年度学时证明").click()
    assert dl.value.suggested_filename.endswith(".pdf")
    assert Certificate.objects.filter(user=learner, kind="year", status="valid").exists()

    # 7. An invoice for the order.
    _nav(phone, "我的订单").click()
    phone.locator("section.order", has_text=order.number).get_by_role("link", name="申请发票").click()
    phone.get_by_role("button", name="提交申请并开具").click()
    expect(phone).to_have_url(re.compile(r"/invoices/$"))
    assert Invoice.objects.get(order=order).status == "issued"

    # 8. No refund once the year's task is complete: no link, and the page says why.
    _nav(phone, "我的订单").click()
    card = phone.locator("section.order", has_text=order.number)
    expect(card.get_by_role("link", name="申请退款")).to_have_count(0)
    expect(card).to_contain_text("您已完成该年度的学习任务，依据用户协议不能退款。")
    phone.goto(f"/orders/{order.number}/refund/")
    expect(phone.locator("main")).to_contain_text("不能退款")
    assert not Refund.objects.filter(order=order).exists()
    screenshot(phone, "journey-refund-refused-375")
    stop_retries()
