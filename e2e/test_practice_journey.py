"""Practice in a real browser on a 375-px phone (rules R7.5, R8.2): the demo's mock exam gives
feedback on its own questions; once an exam is open, a practice page already on screen answers
each question with the refusal and nothing else, the practice pages refuse and lead back to the
paper; after submitting, practice works again."""

import re

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


@pytest.mark.e2e
def test_practice_journey(new_page, screenshot, demo_accounts, live_server, settings, tmp_path):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.exams import policy
    from cpe.exams.models import Attempt, Question
    from cpe.learning.tests.factories import complete_chapters
    from cpe.orders.tests.factories import pay

    settings.MEDIA_ROOT = str(tmp_path / "media")
    learner = User.objects.get(username="demo-learner")
    pay(learner, annual_code(this_year()))
    course = Course.objects.get(code=course_code(this_year(), "P01"))
    complete_chapters(learner, course)
    from cpe.exams.demo_bank import BANKS

    practice = sum(len(rows) for rows in BANKS["P01"]["practice"].values())  # the course's own pool
    assert Question.objects.filter(course=course, pool=policy.POOL_PRACTICE).count() == practice

    page = new_page(*PHONE)
    _sign_in(page, "13800000001", LEARNER_PASSWORD)

    # 1. The mock exam: practice questions only, immediate feedback.
    page.goto(f"/exams/practice/course/{course.pk}/")
    expect(page.get_by_role("heading", name=re.compile("模考题"))).to_be_visible()
    forms = page.locator("form.q")
    expect(forms).to_have_count(practice)
    first = forms.nth(0)
    first.locator("input").first.check()
    first.get_by_role("button", name="提交本题").click()
    expect(first.locator(".feedback")).to_contain_text("正确答案")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "practice-feedback-375")

    # 2. An exam opens in another tab: the practice page still on screen reveals nothing more.
    exam = page.context.new_page()
    exam.goto(f"/exams/course/{course.pk}/")
    exam.get_by_role("button", name="开始考试").click()
    expect(exam.locator("#countdown")).to_be_visible()
    attempt = Attempt.objects.get(user=learner, course=course, status="open")

    second = forms.nth(1)
    second.locator("input").first.check()
    second.get_by_role("button", name="提交本题").click()
    box = second.locator('[aria-live="polite"]')
    expect(box).to_contain_text("您有正在进行的考试，交卷后才能继续练习")
    expect(box).not_to_contain_text("正确答案")
    expect(box).not_to_contain_text("解析")
    screenshot(page, "practice-refused-during-exam-375")

    # 3. The practice pages refuse and lead back to the paper.
    page.goto(f"/exams/practice/course/{course.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("您有正在进行的考试")
    expect(page.locator("form.q")).to_have_count(0)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "practice-page-during-exam-375")
    page.get_by_role("link", name="返回考试").click()
    expect(page).to_have_url(re.compile(rf"/exams/attempt/{attempt.pk}/$"))

    # 4. After submitting, practice works again.
    exam.get_by_role("button", name="交卷").click()
    exam.get_by_role("dialog", name="确认交卷").get_by_role("button", name="确认交卷").click()
    expect(exam.locator("#verdict")).to_contain_text("不合格")
    page.goto(f"/exams/practice/course/{course.pk}/")
    again = page.locator("form.q").nth(0)
    again.locator("input").first.check()
    again.get_by_role("button", name="提交本题").click()
    expect(again.locator(".feedback")).to_contain_text("正确答案")
