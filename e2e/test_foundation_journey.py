"""The foundation journey in a real browser: register on a phone (one refused ID number
first), sign out and in, see the masked profile; staff publish agreement v2 in the admin;
the learner is gated and accepts; a second learner declines and is terminated; a sign-in
elsewhere ends the first device's session."""

import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cpe.accounts.tests.factories import last_code, make_id_number, staff_browser_sign_in
from cpe.backoffice.demo import STAFF_PASSWORD

PHONE = (375, 812)
DESKTOP = (1280, 800)

LEARNER_PASSWORD = "Bao-tou-2026"
SECOND_PASSWORD = "Zhang-san-2026"  # the root register_learner fixture's password


def _field(page, label):
    return page.get_by_label(label, exact=True)


def _sign_in(page, identifier, password):
    page.goto("/accounts/login/")
    _field(page, "身份证号码或手机号码").fill(identifier)
    _field(page, "密码").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()


@pytest.mark.e2e
def test_foundation_journey(new_page, screenshot, demo_accounts, register_learner):
    from cpe.accounts.models import LoginRecord, User
    from cpe.agreements.models import AgreementAcceptance, AgreementVersion, Decision

    learners = User.objects.filter(is_staff=False).exclude(username="demo-learner")
    assert learners.count() == 0

    id_number = make_id_number(birth="19880615", area="150102", seq="201")
    bad_id = id_number[:17] + ("1" if id_number[17] != "1" else "2")
    mobile = "13712340001"

    # 1-2. Register on a phone: a wrong check character is refused next to the field.
    learner = new_page(*PHONE)
    learner.goto("/accounts/register/")
    expect(learner.get_by_role("heading", name="实名注册")).to_be_visible()
    _field(learner, "身份证号码").fill(bad_id)
    _field(learner, "姓名").fill("王小明")
    _field(learner, "电子邮箱").fill("wangxm@example.com")
    _field(learner, "手机号码").fill(mobile)
    _field(learner, "工作单位").fill("包头市某会计师事务所")
    _field(learner, "会计人员信息管理地区").select_option(label="包头市")
    _field(learner, "密码").fill(LEARNER_PASSWORD)
    _field(learner, "确认密码").fill(LEARNER_PASSWORD)
    learner.get_by_role("button", name="获取验证码").click()
    expect(learner.locator("#code-status")).to_contain_text("验证码已发送")
    code = last_code(mobile)
    _field(learner, "短信验证码").fill(code)
    learner.get_by_role("checkbox", name=re.compile("我已阅读并同意")).check()
    learner.get_by_role("button", name="注册", exact=True).click()

    id_field = learner.locator(".field", has=_field(learner, "身份证号码"))
    expect(id_field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(id_field.locator(".error")).to_contain_text("校验位")
    screenshot(learner, "register-error-375")
    assert learners.count() == 0, "a refused registration must not create a user"

    # Correct the ID number; passwords are not sent back, so type them again.
    _field(learner, "身份证号码").fill(id_number)
    _field(learner, "密码").fill(LEARNER_PASSWORD)
    _field(learner, "确认密码").fill(LEARNER_PASSWORD)
    expect(_field(learner, "短信验证码")).to_have_value(code)
    expect(learner.get_by_role("checkbox", name=re.compile("我已阅读并同意"))).to_be_checked()
    screenshot(learner, "register-375")
    learner.get_by_role("button", name="注册", exact=True).click()

    expect(learner).to_have_url(re.compile(r"/accounts/dashboard/$"))
    expect(learner.get_by_text("注册成功")).to_be_visible()
    expect(learner.get_by_text("尚未购买课程")).to_be_visible()
    expect(learner.get_by_text("未纳入", exact=True)).to_be_visible()  # checked in the AIS at registration
    expect(learner.get_by_text("您尚未纳入《内蒙古自治区会计人员信息管理系统》", exact=False)).to_be_visible()
    screenshot(learner, "dashboard-375")
    assert learners.count() == 1
    user = learners.get()
    assert (user.id_number, user.mobile, user.region) == (id_number, mobile, "150200")

    # 3. Sign out, sign in with the ID number; the profile masks it and lists sign-ins.
    learner.get_by_role("button", name="退出").click()
    expect(learner.get_by_text("您已安全退出。")).to_be_visible()
    _sign_in(learner, id_number, LEARNER_PASSWORD)
    expect(learner).to_have_url(re.compile(r"/accounts/dashboard/$"))
    learner.get_by_role("link", name="个人资料").click()
    expect(learner.get_by_role("heading", name="个人资料")).to_be_visible()
    masked = "150102" + "*" * 8 + id_number[-4:]
    expect(learner.locator("dl.facts")).to_contain_text(masked)
    assert id_number not in learner.content()
    logins = learner.locator("table.table tbody tr")
    expect(logins).to_have_count(2)  # the sign-in at registration and this one
    expect(logins.first).to_contain_text("127.0.0.1")
    screenshot(learner, "profile-375")

    # 3b. 下载我的个人信息 (rules R14): the password again, then a ZIP with the JSON copy.
    learner.get_by_role("link", name="下载我的个人信息").click()
    expect(learner.get_by_role("heading", name="下载我的个人信息")).to_be_visible()
    screenshot(learner, "personal-data-375")
    _field(learner, "登录密码").fill(LEARNER_PASSWORD)
    with learner.expect_download() as download_info:
        learner.get_by_role("button", name="确认并下载").click()
    download = download_info.value
    assert download.suggested_filename.startswith("个人信息-") and download.suggested_filename.endswith(
        ".zip"
    )
    with zipfile.ZipFile(download.path()) as zf:
        exported = json.loads(zf.read("个人信息.json"))
    assert exported["账户信息"]["身份证号码"] == id_number
    learner.goto("/accounts/profile/")

    # A second learner, registered (accepting v1.0) before v2 exists.
    second_mobile = "13900000001"
    second = register_learner(mobile=second_mobile, name="李四")

    # 4. Staff publish v2 in the admin on a desktop.
    admin = new_page(*DESKTOP)
    staff_browser_sign_in(admin, "admin", STAFF_PASSWORD)
    admin.goto("/admin/agreements/agreementversion/add/")
    admin.locator("[name=version]").fill("2.0")
    admin.locator("[name=body]").fill("第一条 总则\n第二条 本版本调整了个人信息保存期限。")
    admin.locator("[name=summary]").fill("调整个人信息保存期限。")
    effective = timezone.localtime(timezone.now() - timedelta(minutes=1))
    admin.locator("[name=effective_at_0]").fill(effective.strftime("%Y-%m-%d"))
    admin.locator("[name=effective_at_1]").fill(effective.strftime("%H:%M:%S"))
    admin.locator("[name=_save]").click()
    # The first 保存 shows the difference from the version in force and a preview; nothing is
    # published until the same text is saved again.
    expect(admin.locator("#agreement-preview")).to_contain_text("本版本调整了个人信息保存期限")
    assert not AgreementVersion.objects.filter(version="2.0").exists()
    admin.locator("[name=_save]").click()
    expect(admin).to_have_url(re.compile(r"/admin/agreements/agreementversion/$"))
    expect(admin.locator(".messagelist")).to_contain_text("v2.0")
    screenshot(admin, "admin-publish-1280")
    v2 = AgreementVersion.objects.get(version="2.0")
    assert v2.published_by.username == "admin" and not v2.is_minor

    # 5. The learner's next page is the agreement gate; accepting returns to the dashboard.
    learner.goto("/accounts/dashboard/")
    expect(learner).to_have_url(re.compile(r"/agreement/accept/\?next=%2Faccounts%2Fdashboard%2F$"))
    expect(learner.get_by_role("heading", name="用户协议已更新")).to_be_visible()
    expect(learner.locator("main")).to_contain_text("新版本 v2.0")
    expect(learner.locator("main")).to_contain_text("您此前同意的是 v1.0")
    screenshot(learner, "accept-375")
    learner.get_by_role("button", name="同意并继续").click()
    expect(learner).to_have_url(re.compile(r"/accounts/dashboard/$"))
    expect(learner.get_by_text("尚未购买课程")).to_be_visible()
    assert AgreementAcceptance.objects.filter(user=user, version=v2, decision=Decision.ACCEPTED).exists()

    # 6. The second learner declines v2: the service ends and signing in is refused.
    other = new_page(*PHONE)
    _sign_in(other, second_mobile, SECOND_PASSWORD)
    expect(other).to_have_url(re.compile(r"/agreement/accept/"))
    other.locator("details.decline summary").click()
    other.get_by_role("checkbox", name=re.compile("确定不接受新协议")).check()
    other.get_by_role("button", name="不同意，终止服务").click()
    expect(other).to_have_url(re.compile(r"/agreement/closed/$"))
    expect(other.get_by_role("heading", name="服务已终止")).to_be_visible()
    screenshot(other, "closed-375")
    _sign_in(other, second_mobile, SECOND_PASSWORD)
    expect(other.locator(".form-errors")).to_contain_text("终止服务")
    screenshot(other, "terminated-login-375")
    second.refresh_from_db()
    assert (second.status, second.is_active) == ("terminated", False)
    assert AgreementAcceptance.objects.filter(user=second, version=v2, decision=Decision.DECLINED).exists()

    # 7. One session per account: signing in on a third device ends the first one.
    third = new_page(*PHONE)
    _sign_in(third, id_number, LEARNER_PASSWORD)
    expect(third).to_have_url(re.compile(r"/accounts/dashboard/$"))
    expect(third.get_by_text("已结束您在其他设备或浏览器上的登录")).to_be_visible()
    learner.goto("/accounts/profile/")
    expect(learner).to_have_url(re.compile(r"/accounts/login/\?ended=elsewhere$"))
    expect(learner.get_by_role("alert")).to_contain_text("已在其他设备")
    screenshot(learner, "ended-elsewhere-375")
    assert LoginRecord.objects.filter(user=user).latest("at").ended_other_session
