"""修改密码, 更换邮箱 (throttled) and the sign-in captcha on a 375-px phone, in Debian's chromium."""

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Zhang-san-2026"


def _fits(page):
    return page.evaluate("document.documentElement.scrollWidth") <= 375


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_account_security_pages_fit_a_phone(live_server, register_learner, tmp_path):
    from playwright.sync_api import sync_playwright

    from cpe.accounts import policy, services

    shots = Path(os.environ.get("CPE_SHOTS_DIR") or tmp_path)
    base = live_server.url
    learner = register_learner()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN").new_page()
        try:
            for _ in range(policy.LOGIN_CAPTCHA_AFTER_FAILURES):
                services.login_failure_record(learner.id_number)
            page.goto(base + "/accounts/login/")
            page.get_by_label("身份证号码或手机号码").fill(learner.id_number)
            page.get_by_label("密码", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            assert page.get_by_text(policy.LOGIN_CAPTCHA_MESSAGE).is_visible()
            assert _fits(page)
            page.screenshot(path=str(shots / "login-captcha-375.png"), full_page=True)
            question = page.locator("#captcha-q label").inner_text()  # "验证码：请计算 12 + 7 = ?"
            a, op, b = question.split("请计算", 1)[1].split()[:3]
            answer = int(a) + int(b) if op == "+" else int(a) - int(b)
            page.get_by_label("密码", exact=True).fill(PASSWORD)
            page.get_by_label(question).fill(str(answer))
            page.get_by_role("button", name="登录").click()
            page.wait_for_url("**/accounts/dashboard/")

            page.goto(base + "/accounts/profile/")
            assert _fits(page)
            page.screenshot(path=str(shots / "profile-375.png"), full_page=True)
            page.get_by_role("link", name="修改密码").click()
            page.get_by_label("当前密码").fill("Not-my-pass-1")
            page.get_by_label("新密码", exact=True).fill("Li-si-new-2027")
            page.get_by_label("确认新密码").fill("Li-si-new-2027")
            page.get_by_role("button", name="修改密码").click()
            assert page.get_by_text(policy.WRONG_CURRENT_PASSWORD_MESSAGE).is_visible()
            assert _fits(page)
            page.screenshot(path=str(shots / "password-change-375.png"), full_page=True)
            page.get_by_label("当前密码").fill(PASSWORD)
            page.get_by_label("新密码", exact=True).fill("Li-si-new-2027")
            page.get_by_label("确认新密码").fill("Li-si-new-2027")
            page.get_by_role("button", name="修改密码").click()
            page.wait_for_url("**/accounts/profile/")
            assert page.get_by_text("密码已修改").is_visible()

            for i in range(policy.EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR):
                page.goto(base + "/accounts/profile/email/")
                page.get_by_label("新电子邮箱").fill(f"n{i}@example.com")
                page.get_by_role("button", name="发送验证链接").click()
            assert page.get_by_text("发送验证链接过于频繁").is_visible()
            assert _fits(page)
            page.screenshot(path=str(shots / "email-throttled-375.png"), full_page=True)
        finally:
            browser.close()
