"""The exam journey in a real browser (rules R8, R10): chapters completed through the learning
services in setup → take the exam → fail → retake → pass → see hours and the planner →
download the certificate → verify it publicly (its QR code decoded) → find the record through
the public query on a 375-px phone."""

import re
import subprocess

import pytest
from playwright.sync_api import expect

from cpe.backoffice.demo import DEMO_LEARNER_PASSWORD as LEARNER_PASSWORD
from cpe.backoffice.demo import annual_code, course_code
from cpe.catalog.tests.factories import this_year

PHONE = (375, 812)


def _sign_in(page, identifier, password):
    page.goto("/accounts/login/")
    page.get_by_label("身份证号码或手机号码", exact=True).fill(identifier)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))


def _answer(page, attempt, right: bool):
    for item in attempt.items.select_related("question").order_by("position"):
        q = item.question
        chosen = q.answer if right else [next(j for j in range(len(q.options)) if j not in q.answer)]
        for v in chosen:
            page.locator(f'input[name="q{item.position}"][value="{v}"]').check()
    expect(page.locator("#answered")).to_have_text("30")


def _qr_url(pdf_path, tmp_path):
    import zxingcpp
    from PIL import Image

    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "pg")],
        check=True,
    )
    with Image.open(next(tmp_path.glob("pg*.png"))) as img:
        return [b.text for b in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)][0]


@pytest.mark.e2e
def test_exam_journey(new_page, new_phone_page, screenshot, demo_accounts, live_server, settings, tmp_path):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.credits.models import Certificate, CreditRecord
    from cpe.exams.demo import seed_question_banks
    from cpe.exams.models import Attempt
    from cpe.exams.tests.factories import pass_course
    from cpe.learning.tests.factories import complete_chapters
    from cpe.orders.tests.factories import pay

    settings.SITE_URL = live_server.url
    settings.MEDIA_ROOT = str(tmp_path / "media")
    seed_question_banks()  # demo_seed has already done it: safe to repeat
    from cpe.exams.models import Question

    assert Question.objects.count() >= 150
    learner = User.objects.get(username="demo-learner")
    year = this_year()
    pay(learner, annual_code(year))
    courses = {c.code: c for c in Course.objects.filter(year__year=year)}
    for c in courses.values():
        complete_chapters(learner, c)
    for suffix in ("P02", "P03", "G01", "G02"):  # 66 hours, 40 professional
        pass_course(learner, courses[course_code(year, suffix)])
    course = courses[course_code(year, "P01")]  # 24 professional hours

    page = new_page(*PHONE)
    _sign_in(page, "13800000001", LEARNER_PASSWORD)
    expect(page.get_by_test_id("planner").first).to_have_text("还需 24 学时，其中专业科目 20 学时")
    screenshot(page, "exam-dashboard-before-375")

    # 1. The course page links 【我要考试】; the exam opens with a countdown.
    page.goto(f"/learn/course/{course.pk}/")
    page.get_by_role("link", name="【我要考试】").click()
    expect(page.get_by_role("heading", name="我要考试")).to_be_visible()
    page.get_by_role("button", name="开始考试").click()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(60:00|59:\d\d)$"))
    attempt = Attempt.objects.get(user=learner, course=course)
    # One tap does not submit: 交卷 asks first and says how many questions are unanswered.
    page.get_by_role("button", name="交卷").click()
    ask = page.get_by_role("dialog", name="确认交卷")
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("还有 30 题未作答（第 1、2、3、4、5、6、7、8、9、10 等 题）")
    screenshot(page, "exam-confirm-375")
    ask.get_by_role("button", name="返回检查").click()
    expect(ask).to_be_hidden()
    attempt.refresh_from_db()
    assert attempt.status == "open"
    page.locator("#q1 input").first.check()
    expect(page.locator("#save-state")).to_contain_text("已保存第 1 题")
    page.get_by_role("button", name="交卷").click()
    expect(ask).to_contain_text("还有 29 题未作答（第 2、")
    ask.get_by_role("button", name="返回检查").click()
    _answer(page, attempt, right=False)
    screenshot(page, "exam-paper-375")
    # A reload loses nothing (every answer was autosaved).
    page.reload()
    expect(page.locator("#answered")).to_have_text("30")
    assert attempt.items.exclude(answer=[]).count() == 30
    page.get_by_role("button", name="交卷").click()
    expect(ask).to_contain_text("全部 30 题均已作答")
    ask.get_by_role("button", name="确认交卷").click()
    expect(page.locator("#verdict")).to_contain_text("不合格")
    expect(page.locator("#score")).to_have_text("0 分")
    screenshot(page, "exam-failed-375")
    assert not CreditRecord.objects.filter(course=course).exists()

    # 2. Retake and pass.
    page.get_by_role("link", name="再考一次").click()
    page.get_by_role("button", name="开始考试").click()
    expect(page.locator("#countdown")).to_be_visible()
    second = Attempt.objects.get(user=learner, course=course, status="open")
    assert second.number == 2
    _answer(page, second, right=True)
    page.get_by_role("button", name="交卷").click()
    page.get_by_role("dialog", name="确认交卷").get_by_role("button", name="确认交卷").click()
    expect(page.locator("#verdict")).to_contain_text("合格")
    expect(page.locator("#score")).to_have_text("100 分")
    expect(page.get_by_role("status").filter(has_text="已记载 24 学时")).to_be_visible()
    screenshot(page, "exam-passed-375")

    # 3. Hours, progress and the planner: the year is complete.
    page.get_by_role("link", name="查看我的学时").click()
    expect(page.get_by_test_id("planner")).to_contain_text("本年度学时已达标（90/90 学时）")
    expect(page.locator(".progress")).to_have_attribute("aria-valuenow", "100")
    screenshot(page, "exam-year-page-375")

    # 4. Download the completion certificate; its QR code opens the public verification page.
    with page.expect_download() as dl:
        page.get_by_role("link", name=f"下载 {year} 年度学时证明").click()
    pdf = tmp_path / "cert.pdf"
    dl.value.save_as(pdf)
    cert = Certificate.objects.get(user=learner, kind="year", status="valid")
    url = _qr_url(pdf, tmp_path)
    assert url == f"{live_server.url}/credits/verify/{cert.number}/"
    public = new_phone_page(*PHONE)
    public.goto(url)
    expect(public.locator("#cert-status")).to_contain_text("有效")
    expect(public.locator(".facts")).to_contain_text("张*")
    expect(public.locator(".facts")).to_contain_text("90 学时")
    assert "张明" not in public.content()
    screenshot(public, "exam-verify-375")

    # 5. The public query finds the record (ID number AND name, captcha) on a phone.
    public.goto("/credits/query/")
    public.get_by_label("身份证号码", exact=True).fill(learner.id_number)
    public.get_by_label("姓名", exact=True).fill("张明")
    a, op, b = re.match(r"(\d+) ([+-]) (\d+)", public.locator("#captcha-q").inner_text()).groups()
    public.get_by_label("验证码（计算结果）").fill(str(int(a) + int(b) if op == "+" else int(a) - int(b)))
    public.get_by_role("button", name="查询").click()
    result = public.locator("#query-result")
    expect(result).to_contain_text("张* 的学时记录")
    expect(result).to_contain_text("已完成")
    expect(result).to_contain_text(cert.number)
    assert public.evaluate("() => document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(public, "exam-public-query-375")
