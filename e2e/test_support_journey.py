"""Support journey on a 375-px phone (rules R13): a learner searches the FAQ, finds nothing,
asks a question; staff (admin) answer in the staff site; the learner sees the answer and the
SMS is in the outbox."""

import re

import pytest
from playwright.sync_api import expect

from cpe.accounts.tests.factories import staff_browser_sign_in
from cpe.backoffice.demo import DEMO_LEARNER_PASSWORD as LEARNER_PASSWORD
from cpe.backoffice.demo import STAFF_PASSWORD

PHONE = (375, 812)


@pytest.mark.e2e
def test_support_journey(new_page, new_phone_page, screenshot, demo_accounts):
    from cpe.accounts.models import User
    from cpe.notices.models import OutboundMessage

    phone = new_phone_page(*PHONE)
    phone.goto("/accounts/login/")
    phone.get_by_label("身份证号码或手机号码", exact=True).fill("13800000001")
    phone.get_by_label("密码", exact=True).fill(LEARNER_PASSWORD)
    phone.get_by_role("button", name="登录", exact=True).click()
    expect(phone).to_have_url(re.compile(r"/accounts/dashboard/$"))

    # 1. The FAQ, from the footer; a search that finds the invoice entry, then one that finds nothing.
    phone.get_by_role("contentinfo").get_by_role("link", name="常见问题").click()
    phone.get_by_label("搜索常见问题").fill("发票")
    phone.get_by_role("button", name="搜索").click()
    expect(phone.get_by_text("发票最晚什么时候开具？")).to_be_visible()
    expect(phone.get_by_text("次年 3 月 31 日").first).to_be_visible()  # filled from invoicing.policy
    screenshot(phone, "support-faq-search-375")
    phone.get_by_label("搜索常见问题").fill("证书邮寄")
    phone.get_by_role("button", name="搜索").click()
    expect(phone.get_by_text("没有找到相关问题。")).to_be_visible()
    screenshot(phone, "support-faq-empty-375")

    # 2. Ask: an empty body is refused in Chinese, then the question is sent.
    phone.get_by_role("status").get_by_role("link", name="在线提问").click()  # the empty result offers it
    phone.get_by_label("标题").fill("纸质证书可以邮寄吗")
    phone.get_by_role("button", name="提交问题").click()
    expect(phone.get_by_text("请填写问题描述。")).to_be_visible()
    phone.get_by_label("分类（可不选）").select_option(label="学时与上报")
    phone.get_by_label("问题描述").fill("单位需要纸质学时证明，平台可以邮寄吗？")
    phone.get_by_role("button", name="提交问题").click()
    expect(phone.get_by_text("问题已提交")).to_be_visible()
    expect(phone.locator(".badge")).to_have_text("待回复")
    screenshot(phone, "support-asked-375")

    # 3. Staff answer in the staff site.
    admin = new_page(1280, 900)
    staff_browser_sign_in(admin, "admin", STAFF_PASSWORD)
    admin.goto("/admin/support/thread/?status__exact=waiting")
    admin.get_by_role("link", name="纸质证书可以邮寄吗").click()
    admin.get_by_label("回复学员").fill(
        "平台不邮寄纸质证书，请在“我的学时”下载电子证书（带二维码，可查验）。"
    )
    admin.locator("input[name=_save]").click()
    expect(admin.locator(".messagelist")).to_contain_text("回复已发送，已通知学员。")
    expect(admin.locator(".inline-related")).to_contain_text("请在“我的学时”下载电子证书")
    screenshot(admin, "support-admin-answered-1280")

    # 4. The learner sees the answer (and the SMS went to the outbox).
    phone.goto("/support/mine/")
    expect(phone.locator(".badge")).to_have_text("已回复")
    phone.get_by_role("link", name="纸质证书可以邮寄吗").click()
    expect(phone.locator(".msgs li.staff")).to_contain_text("请在“我的学时”下载电子证书")
    screenshot(phone, "support-thread-answered-375")
    learner = User.objects.get(username="demo-learner")
    assert OutboundMessage.objects.filter(event="support.answered", user=learner, channel="sms").count() == 1
