"""The termination page, the account-ban page and the sanctioned person's data-copy page on a
375-px phone, in Debian's chromium (rules R12, R14; conventions C5)."""

import pytest

from cpe.accounts.states import TerminationReason
from cpe.accounts.tests.factories import staff_browser_sign_in

from .test_ban_page_browser import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "Zhang-san-2026"


def _phone(p):
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
    return browser, browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN").new_page()


def _sign_in(page, base, learner):
    page.goto(base + "/accounts/login/")
    page.get_by_label("身份证号码或手机号码").fill(learner.id_number)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/accounts/dashboard/")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_sanction_pages_fit_a_phone(server_with_ban_middleware, staff_with, register_learner, tmp_path):
    from playwright.sync_api import sync_playwright

    from cpe.moderation import services

    base = server_with_ban_middleware
    terminated, banned = register_learner(), register_learner()
    operator = staff_with()
    with sync_playwright() as p:
        browser, page = _phone(p)
        try:
            _sign_in(page, base, terminated)
            services.learner_terminate(
                user_id=terminated.pk,
                reason=TerminationReason.OTHER,
                note="经核实，该账号由他人代为学习和考试。",
                actor=operator,
            )
            response = page.goto(base + "/accounts/dashboard/")
            assert response.status == 403
            assert page.get_by_role("heading", name="账号已终止服务").is_visible()
            assert page.get_by_text("其他：经核实").is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.screenshot(path=str(tmp_path / "f-terminated-375.png"), full_page=True)

            page.get_by_role("link", name="验证手机后下载您的个人信息").click()
            assert page.get_by_role("heading", name="受限账号下载个人信息").is_visible()
            page.get_by_label("身份证号码或手机号码").fill(terminated.id_number)
            page.get_by_role("button", name="发送短信验证码").click()
            assert page.get_by_text("验证码已发送").is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.screenshot(path=str(tmp_path / "f-copy-375.png"), full_page=True)

            page.context.clear_cookies()
            _sign_in(page, base, banned)
            services.ban_account(user_id=banned.pk, reason="多人共用同一账号学习。", actor=operator)
            response = page.goto(base + "/credits/")
            assert response.status == 403
            assert page.get_by_role("link", name="常见问题").first.is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.screenshot(path=str(tmp_path / "f-banned-account-375.png"), full_page=True)

            # a sign-in while banned is refused; once lifted, the profile's login list shows it as such
            page.goto(base + "/accounts/login/")
            page.get_by_label("身份证号码或手机号码").fill(banned.id_number)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            assert page.get_by_role("heading", name="访问受限").is_visible()
            services.ban_lift(ban_id=banned.bans.get().pk, actor=operator)
            _sign_in(page, base, banned)
            page.goto(base + "/accounts/profile/")
            assert page.get_by_text("登录被拒绝（封禁中）").is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.screenshot(path=str(tmp_path / "f-profile-375.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_staff_ban_forms_with_an_end_time_on_a_phone(
    server_with_ban_middleware,
    staff_with,
    register_learner,
    tmp_path,
):
    from django.utils import timezone
    from playwright.sync_api import sync_playwright

    from cpe.moderation.models import Ban

    from .test_services import OPERATOR_PERMS

    base = server_with_ban_middleware
    learner = register_learner()
    staff_with(*OPERATOR_PERMS, username="op375")
    end = timezone.localtime(timezone.now() + timezone.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    with sync_playwright() as p:
        browser, page = _phone(p)
        try:
            staff_browser_sign_in(page, "op375", "Staff-pass-2026", base=base)
            page.goto(base + "/admin/moderation/ban/add/")
            page.fill("#id_network", "198.51.100.0/24")
            page.fill("#id_reason", "短时间内大量注册")
            page.fill("#id_ends_at", end)
            page.screenshot(path=str(tmp_path / "f-admin-ipban-375.png"), full_page=True)
            page.locator("input[name=_save]").click()
            page.wait_for_url("**/admin/moderation/ban/")
            assert Ban.objects.get().ends_at is not None

            page.goto(base + "/admin/moderation/learneraccount/")
            page.locator(f"input[name=_selected_action][value='{learner.pk}']").check()
            page.select_option("select[name=action]", "ban")
            page.locator("button[name=index]").click()
            page.fill("#id_reason", "多人共用账号")
            page.fill("#id_ends_at", end)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.screenshot(path=str(tmp_path / "f-admin-accountban-375.png"), full_page=True)
            page.locator("input[type=submit], button[type=submit]").last.click()
            page.wait_for_url("**/admin/moderation/learneraccount/")
            assert Ban.objects.filter(user=learner, ends_at__isnull=False).exists()
        finally:
            browser.close()
