"""获取验证码 on the registration page, on a phone: a registered mobile gets the same answer as a
free one, and an error (too soon, a malformed number) shows next to the button, with or without
script, the filled form kept."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cpe.accounts.tests.factories import make_id_number

PHONE = (375, 812)


def _fill(page, mobile):
    page.goto("/accounts/register/")
    page.get_by_label("身份证号码", exact=True).fill(make_id_number(seq="555"))
    page.get_by_label("姓名", exact=True).fill("王小明")
    page.get_by_label("手机号码", exact=True).fill(mobile)


@pytest.mark.e2e
def test_code_answers_inline_and_alike_on_a_phone(
    new_page, browser, live_server, screenshot, register_learner
):
    # Registered two hours ago (its own code is past the resend interval).
    taken = register_learner(mobile="13712340001", at=timezone.now() - timedelta(hours=2)).mobile
    page = new_page(*PHONE)
    _fill(page, taken)
    expect(page).to_have_title(re.compile(r"^注册 - [^<]*$"))  # the countdown script once sat in <title>
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#code-status")).to_have_text("验证码已发送至 137****0001，10 分钟内有效。")
    # Within 60 s (the countdown disables the button; a script-less or hurried client can still post).
    page.evaluate("document.getElementById('send-code').disabled = false")
    page.locator("#send-code").click()
    expect(page.locator("#code-status .inline-msg.error")).to_contain_text("秒后再试")
    expect(page).to_have_url(re.compile(r"/accounts/register/$"))
    expect(page.get_by_label("姓名", exact=True)).to_have_value("王小明")
    expect(page.get_by_role("heading", name="实名注册")).to_be_visible()
    assert "已注册" not in page.content()
    screenshot(page, "register-code-too-soon-375")

    # Without script the button posts the form; the page comes back whole, the message inline.
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        java_script_enabled=False,
        viewport={"width": PHONE[0], "height": PHONE[1]},
    )
    try:
        bare = context.new_page()
        _fill(bare, "1371234")
        bare.get_by_role("button", name="获取验证码").click()
        expect(bare.get_by_role("heading", name="实名注册")).to_be_visible()
        expect(bare.locator("#code-status")).to_contain_text("请填写 11 位中国大陆手机号码")
        expect(bare.get_by_label("姓名", exact=True)).to_have_value("王小明")
        screenshot(bare, "register-code-nojs-375")
    finally:
        context.close()
