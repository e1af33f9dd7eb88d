"""A new staff member's first sign-in in a real browser: password, then enrolment (the QR code
and the key as text, confirmed with a code the authenticator would show), the recovery codes
shown once, the admin; on a 375-px phone and a 1280-px desktop."""

import base64
import re

import pytest
from playwright.sync_api import expect

from cpe.accounts import policy

PASSWORD = "Staff-pass-2026-long"


def _code_from_page_key(key_text: str) -> str:
    """What an authenticator app computes from the key typed in by hand."""
    from django_otp.oath import TOTP

    key = base64.b32decode(key_text.replace(" ", ""))
    return str(TOTP(key, step=policy.TOTP_STEP_SECONDS, digits=policy.TOTP_DIGITS).token()).zfill(6)


@pytest.mark.e2e
@pytest.mark.parametrize("width, height", [(375, 812), (1280, 900)])
def test_first_staff_sign_in_enrols_the_second_factor(
    new_page, screenshot, transactional_db, width, height, django_user_model
):
    django_user_model.objects.create_user(f"op{width}", PASSWORD, name="运营", is_staff=True)
    page = new_page(width, height)
    page.goto("/admin/")
    page.locator("#id_username").fill(f"op{width}")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/setup/"))
    expect(page.get_by_role("heading", name="绑定身份验证器")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    box = page.locator("figure.qr svg").bounding_box()
    assert box["width"] >= 120 and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(page, f"2fa-setup-{width}")
    # A wrong code first: refused, still on the page.
    right = _code_from_page_key(page.locator(".otp-key").inner_text())
    page.get_by_label("验证码").fill("000000" if right != "000000" else "111111")
    page.get_by_role("button", name="确认绑定").click()
    expect(page.locator(".error")).to_contain_text("验证码不正确")
    page.get_by_label("验证码").fill(_code_from_page_key(page.locator(".otp-key").inner_text()))
    page.get_by_role("button", name="确认绑定").click()
    expect(page.get_by_role("heading", name="两步验证恢复码")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(policy.RECOVERY_CODE_COUNT)
    screenshot(page, f"2fa-recovery-codes-{width}")
    page.get_by_role("link", name="我已保存，继续").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    # Signing in again asks for a code (the verification page).
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.locator("#id_username").fill(f"op{width}")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/\?"))
    expect(page.get_by_role("heading", name="两步验证")).to_be_visible()
    screenshot(page, f"2fa-verify-{width}")
