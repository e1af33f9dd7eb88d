"""The Content-Security-Policy in a real browser: the main learner pages, the player playing an
encrypted HLS chapter (hls.js: MediaSource blob: URLs, segment and key fetches, its worker), an
exam paper, a practice page, the staff second factor and the admin. Every
`securitypolicyviolation` event and every console message about the policy is recorded, on
every page of the browser context; none may occur."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from cpe.accounts.tests.factories import staff_browser_sign_in
from cpe.backoffice.demo import DEMO_LEARNER_PASSWORD as LEARNER_PASSWORD
from cpe.backoffice.demo import STAFF_PASSWORD, annual_code, course_code
from cpe.catalog.tests.factories import this_year

RECORDER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.cspViolation(`${location.pathname} ${e.effectiveDirective} ${e.blockedURI} ${where}`);
});
"""


def _recording(page, seen: list):
    context = page.context
    context.expose_function("cspViolation", lambda text: seen.append(text))
    context.add_init_script(RECORDER)
    page.on(
        "console",
        lambda m: (
            seen.append(f"console: {m.text}")
            if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
            else None
        ),
    )
    return page


def _sign_in(page, identifier, password):
    page.goto("/accounts/login/")
    page.get_by_label("身份证号码或手机号码", exact=True).fill(identifier)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_no_page_violates_the_content_security_policy(
    new_page, screenshot, demo_accounts, settings, tmp_path, live_server
):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.learning.demo import make_demo_video
    from cpe.learning.tests.factories import complete_chapters
    from cpe.orders.tests.factories import pay

    settings.SITE_URL = live_server.url
    settings.LEARNING_HEARTBEAT_SECONDS = 2
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    year = this_year()
    course = Course.objects.get(code=course_code(year, "P01"))
    first = course.chapters.order_by("position").first()
    assert make_demo_video(first, seconds=8).status == "ready"
    learner = User.objects.get(username="demo-learner")
    pay(learner, annual_code(year))
    seen: list[str] = []

    # Anonymous pages.
    page = _recording(new_page(375, 812), seen)
    for path in (
        "/",
        "/courses/",
        "/accounts/register/",
        "/accounts/password/reset/",
        "/credits/query/",
        "/support/",
        "/notices/",
        "/agreement/",
    ):
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
    # register.js (a static file now) still counts the code button down.
    page.goto("/accounts/register/")
    page.get_by_label("手机号码", exact=True).fill("13712345678")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#code-status")).to_contain_text("验证码已发送")
    expect(page.locator("#send-code")).to_be_disabled()
    expect(page.locator("#send-code")).to_have_text(re.compile(r"^\d+ 秒后重新获取$"))

    # The learner's pages, the player playing, a practice page, an exam paper.
    _sign_in(page, "13800000001", LEARNER_PASSWORD)
    for path in (
        "/accounts/dashboard/",
        "/accounts/profile/",
        "/credits/",
        "/orders/",
        "/invoices/",
        f"/learn/course/{course.pk}/",
    ):
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
    page.goto(f"/learn/chapter/{first.pk}/")
    # The player says 点击播放 once hls.js has attached its MediaSource and parsed the playlist; a
    # play() before that is cut off when hls.js loads the MediaSource into the video element.
    expect(page.locator("#status")).to_contain_text("点击播放")
    page.evaluate("() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('video').currentTime > 3", timeout=30_000)
    assert page.evaluate("() => document.getElementById('video').src.startsWith('blob:')")
    screenshot(page, "csp-player-375")
    page.goto(f"/exams/practice/course/{course.pk}/")
    expect(page.locator("main")).to_be_visible()
    complete_chapters(learner, course)
    page.goto(f"/exams/course/{course.pk}/")
    page.get_by_role("button", name="开始考试").click()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(60:00|59:\d\d)$"))
    page.locator('input[name="q1"]').first.check()
    expect(page.locator("#answered")).to_have_text("1")
    screenshot(page, "csp-exam-375")

    # Staff: the second factor, the admin index, a list, a change form and an add form.
    admin = _recording(new_page(1280, 900), seen)
    staff_browser_sign_in(admin, "admin", STAFF_PASSWORD)
    for path in (
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{learner.pk}/change/",
        "/admin/notices/announcement/add/",
        "/reporting/staff/exports/",
        "/accounts/2fa/recovery-codes/",
    ):
        admin.goto(path)
        expect(admin.locator("body")).to_be_visible()
    screenshot(admin, "csp-admin-1280")
    assert seen == []
