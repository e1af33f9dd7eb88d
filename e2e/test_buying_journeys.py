"""The buying journeys in a real browser, paying through the embedded sandbox gateway over real
HTTP (the live server is both the shop and the gateway; DEBUG is off, so nothing here relies on
the DEBUG-only sandbox links).

1. On a phone (iPhone Safari user agent, 375 px): a learner not found in the AIS buys the annual
   course with Alipay mobile web pay (confirming the AIS warning first), sees the 90-day
   validity, requests a personal invoice and downloads its PDF, requests a refund; finance
   approves it in the staff site on a desktop; the order is refunded, the course closed and the
   invoice reversed by a red-letter invoice.
2. On a desktop: a learner buys the annual course with WeChat Pay Native (the QR code decodes
   to the sandbox cashier, paid from a phone; the QR page's poller moves on by itself), then a
   single course with Alipay page pay: 支付失败 first (the return page says so and offers paying
   again), then 只支付不通知: the return page asks the gateway.
"""

import io
import re
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cpe.accounts.tests.factories import staff_browser_sign_in
from cpe.backoffice.demo import STAFF_PASSWORD, annual_code, single_code
from cpe.catalog.tests.factories import this_year

PHONE = (375, 812)
DESKTOP = (1280, 800)


LEARNER_PASSWORD = "Zhang-san-2026"  # the root register_learner fixture's password
YEAR = this_year()  # the demo offers this year's course (and last year's)
ANNUAL = annual_code(YEAR)  # cpe.backoffice.demo: ¥198.00, 90 days
ANNUAL_TITLE = f"{YEAR} 年度会计人员继续教育课程"
SINGLE = single_code(YEAR)  # cpe.backoffice.demo: ¥30.00
SINGLE_TITLE = "单门课程：数字化转型与数据安全"
AIS_ERROR = "您尚未被确认纳入《内蒙古自治区会计人员信息管理系统》"
PAY_TIMEOUT_MS = 20_000  # the QR page polls every 2 s

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(settings, live_server):
    """The gateway adapters read SITE_URL at call time: point them at the live server's sandbox.
    Afterwards stop any notification retries the sandbox may still be running."""
    from cpe.sandbox.testing import stop_retries

    settings.SITE_URL = live_server.url
    yield live_server.url
    stop_retries()


def _learner(register_learner, *, mobile, name, ais_status):
    from cpe.accounts.models import User

    user = register_learner(mobile=mobile, name=name)
    User.objects.filter(pk=user.pk).update(ais_status=ais_status)
    user.refresh_from_db()
    return user


def _sign_in(page, identifier, password):
    page.goto("/accounts/login/")
    page.get_by_label("身份证号码或手机号码", exact=True).fill(identifier)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))


def _staff_sign_in(page, username):
    staff_browser_sign_in(page, username, STAFF_PASSWORD)


def _nav(page, name):
    return page.get_by_role("navigation", name="主导航").get_by_role("link", name=name, exact=True)


def _local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M")


def _product_row(page, title):
    return page.locator(".product", has=page.get_by_text(title, exact=True))


def _radio_labels(page):
    return [t.strip() for t in page.locator("fieldset.pay-methods label:visible").all_inner_texts()]


def _pdftotext(data: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_phone_alipay_buy_invoice_refund_journey(
    new_phone_page, new_page, screenshot, site, register_learner, tmp_path
):
    from cpe.invoicing.models import Invoice
    from cpe.learning.models import Enrolment
    from cpe.orders.models import Order, PaymentNotification, Refund
    from cpe.sandbox.models import SandboxTrade

    user = _learner(register_learner, mobile="13900000011", name="王小红", ais_status="not_found")
    orders = Order.objects.filter(user=user)

    # 1. A learner without a course reaches the catalogue from 我的学习 (去选课) and picks the
    #    annual course; the year's requirement and each course's hours are on the page.
    phone = new_phone_page(*PHONE)
    _sign_in(phone, user.mobile, LEARNER_PASSWORD)
    expect(phone.get_by_text("尚未购买课程")).to_be_visible()
    phone.get_by_role("link", name="去选课").click()
    expect(phone).to_have_url(re.compile(r"/courses/$"))
    expect(phone.get_by_role("heading", name=f"{YEAR} 年度")).to_be_visible()
    expect(phone.locator("main")).to_contain_text("年度要求：90 学时，其中专业科目不少于 60 学时")
    expect(phone.locator("main")).to_contain_text("24 学时 · 3 章")
    screenshot(phone, "catalog-375")
    _product_row(phone, ANNUAL_TITLE).get_by_role("link", name="购买").click()
    expect(phone).to_have_url(re.compile(rf"/orders/buy/{ANNUAL}/$"))
    expect(phone.get_by_role("heading", name="确认购买")).to_be_visible()
    expect(phone.locator("dl.facts")).to_contain_text("¥198.00")
    expect(phone.locator("dl.facts")).to_contain_text("自付款时起 90 天")

    # 2. The AIS warning: the phone is offered the phone channels only; the confirmation is
    #    required by the browser, and the server refuses (and creates nothing) without it.
    assert _radio_labels(phone) == ["支付宝（手机网站支付）", "微信支付（H5 支付）"]
    warning = phone.locator(".card.warn")
    expect(warning).to_contain_text("在本平台注册不代表已纳入会计人员信息管理系统")
    confirm = phone.get_by_role("checkbox", name="我已知晓上述情况，仍要购买")
    expect(confirm).not_to_be_checked()
    expect(confirm).to_have_attribute("required", "")
    screenshot(phone, "buy-375")
    phone.get_by_role("button", name="去支付 ¥198.00").click()  # the browser blocks it
    expect(phone).to_have_url(re.compile(rf"/orders/buy/{ANNUAL}/$"))
    assert confirm.evaluate("el => el.validity.valueMissing")
    confirm.evaluate("el => el.removeAttribute('required')")  # now ask the server
    phone.get_by_role("button", name="去支付 ¥198.00").click()
    expect(phone.get_by_role("alert")).to_contain_text(AIS_ERROR)
    expect(phone.get_by_role("checkbox", name="我已知晓上述情况，仍要购买")).not_to_be_checked()
    screenshot(phone, "buy-ais-error-375")
    assert not orders.exists(), "a refused purchase must not create an order"

    # 3. Confirm, pick Alipay: the Alipay (sandbox) cashier for exactly ¥198.00.
    phone.get_by_role("checkbox", name="我已知晓上述情况，仍要购买").check()
    phone.get_by_role("radio", name="支付宝（手机网站支付）").check()
    phone.get_by_role("button", name="去支付 ¥198.00").click()
    expect(phone).to_have_url(re.compile(r"/sandbox/pay/[\w-]+/$"))
    expect(phone.locator("header.bar.alipay")).to_contain_text("支付宝 · 收银台")
    expect(phone.get_by_label("应付金额 198.00 元")).to_be_visible()
    order = orders.get()
    assert (order.status, order.channel, order.amount_fen, order.ais_warning_confirmed) == (
        "pending",
        "alipay_wap",
        19800,
        True,
    )
    expect(phone.locator("main")).to_contain_text(order.number)
    screenshot(phone, "alipay-sandbox-375")

    # 4. 支付成功: the signed notification activates the order, the browser returns to the shop.
    phone.get_by_role("button", name="支付成功").click()
    expect(phone).to_have_url(re.compile(rf"/orders/{order.number}/result/\?"))
    expect(phone.get_by_role("heading", name="支付成功")).to_be_visible()
    order.refresh_from_db()
    enrolment = Enrolment.objects.get(order=order)
    assert order.status == "paid" and order.paid_at is not None
    assert enrolment.valid_from == order.paid_at
    assert enrolment.valid_until == order.paid_at + timedelta(days=90)
    assert PaymentNotification.objects.filter(order=order, outcome="activated").count() == 1
    assert SandboxTrade.objects.get(out_trade_no=order.number).deliveries.filter(ok=True).exists()
    valid_until = _local(enrolment.valid_until)
    expect(phone.locator("main")).to_contain_text(f"课程已开通，有效期至 {valid_until}（90 天）")
    screenshot(phone, "paid-375")

    # 5. 我的订单: paid, with the validity end; the dashboard shows the course being studied.
    _nav(phone, "我的订单").click()
    card = phone.locator("section.order", has_text=order.number)
    expect(card.locator(".badge")).to_have_text("已支付")
    expect(card.locator("dl.facts")).to_contain_text(f"有效期至{valid_until}")
    expect(card.get_by_role("link", name="申请退款")).to_be_visible()
    expect(card.get_by_role("link", name="申请发票")).to_be_visible()
    screenshot(phone, "orders-375")
    _nav(phone, "我的学习").click()
    expect(phone.locator("ul.enrolments")).to_contain_text(ANNUAL_TITLE)
    expect(phone.locator("ul.enrolments")).to_contain_text(f"学习中 有效期至 {valid_until}")
    screenshot(phone, "dashboard-paid-375")

    # 6. A personal invoice: made out to the registered name; 我的发票 lists it; the PDF is a
    #    PDF whose text holds the amount and the learner's name.
    _nav(phone, "我的订单").click()
    phone.locator("section.order", has_text=order.number).get_by_role("link", name="申请发票").click()
    expect(phone.get_by_role("heading", name="申请发票")).to_be_visible()
    expect(phone.get_by_role("radio", name="个人")).to_be_checked()
    expect(phone.locator(".personal-only")).to_contain_text("发票抬头（购买方名称）：王小红")
    expect(phone.get_by_label("单位名称")).to_be_hidden()
    screenshot(phone, "invoice-request-375")
    phone.get_by_role("button", name="提交申请并开具").click()
    expect(phone).to_have_url(re.compile(r"/invoices/$"))
    invoice = Invoice.objects.get(order=order)
    assert (invoice.kind, invoice.status, invoice.buyer_name, invoice.total_fen) == (
        "blue",
        "issued",
        "王小红",
        19800,
    )
    expect(phone.get_by_role("status")).to_contain_text(f"发票已开具，发票号码 {invoice.number}")
    item = phone.locator("li.invoice-item", has_text=invoice.number)
    expect(item).to_contain_text("正常")
    expect(item).to_contain_text("价税合计：¥198.00")
    expect(item).to_contain_text(f"购买方：王小红 · 订单号 {order.number}")
    screenshot(phone, "invoices-375")
    pdf_link = item.get_by_role("link", name="下载 PDF")
    with phone.expect_download() as download_info:
        pdf_link.click()
    assert download_info.value.suggested_filename == f"电子发票_{invoice.number}.pdf"
    resp = phone.request.get(pdf_link.get_attribute("href"))
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    text = _pdftotext(resp.body(), tmp_path, "blue.pdf")
    assert "198.00" in text and "王小红" in text and invoice.number in text and order.number in text

    # 7. A refund request with a reason: the page states the rule and its deadline.
    _nav(phone, "我的订单").click()
    phone.locator("section.order", has_text=order.number).get_by_role("link", name="申请退款").click()
    expect(phone.get_by_role("heading", name="申请退款")).to_be_visible()
    expect(phone.locator("main")).to_contain_text(f"截止 {_local(order.paid_at + timedelta(days=7))}")
    phone.get_by_label("退款原因").fill("单位已统一安排培训，无需个人购买。")
    screenshot(phone, "refund-375")
    phone.get_by_role("button", name="提交退款申请").click()
    expect(phone).to_have_url(re.compile(r"/orders/$"))
    expect(phone.get_by_role("status")).to_contain_text("退款申请已提交")
    card = phone.locator("section.order", has_text=order.number)
    expect(card.locator(".badge")).to_have_text("退款审核中")
    expect(card.locator("dl.facts")).to_contain_text("退款待审核")
    expect(card.get_by_role("link", name="申请退款")).to_have_count(0)
    screenshot(phone, "refund-requested-375")
    refund = Refund.objects.get(order=order)
    assert (refund.status, refund.amount_fen, refund.reason) == (
        "requested",
        19800,
        "单位已统一安排培训，无需个人购买。",
    )

    # 8. Finance approves in the staff site: the money goes back through Alipay.
    admin = new_page(*DESKTOP)
    _staff_sign_in(admin, "finance")
    admin.goto("/admin/orders/refund/")
    row = admin.locator("#result_list tbody tr", has_text=refund.refund_no)
    expect(row).to_contain_text("待审核")
    row.get_by_role("link", name=refund.refund_no).click()
    expect(admin.locator("main, #content").first).to_contain_text("单位已统一安排培训，无需个人购买。")
    approve = admin.get_by_role("button", name="批准并原路退款")
    expect(approve).to_be_visible()
    screenshot(admin, "admin-refund-1280")
    approve.click()
    expect(admin).to_have_url(re.compile(r"/admin/orders/refund/$"))
    expect(
        admin.locator(".messagelist"),
        message=(
            "the approval should refund at once; '退款处理中' means the gateway call failed (on SQLite: the "
            "admin's transaction holds the write lock while the sandbox answers the refund call)"
        ),
    ).to_contain_text("已退款 198.00 元，课程已关闭。")
    screenshot(admin, "admin-refunded-1280")
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.decided_by.username, order.status) == ("succeeded", "finance", "refunded")
    assert SandboxTrade.objects.get(out_trade_no=order.number).refunded_fen == 19800

    # 9. The learner sees it all: refunded, course closed, invoice reversed by a red one.
    _nav(phone, "我的订单").click()
    card = phone.locator("section.order", has_text=order.number)
    expect(card.locator(".badge")).to_have_text("已退款")
    expect(card.locator("dl.facts")).to_contain_text("退款已退款")
    screenshot(phone, "orders-refunded-375")
    _nav(phone, "我的学习").click()
    closed = phone.locator("ul.enrolments li", has_text=ANNUAL_TITLE)
    expect(closed.locator(".badge")).to_have_text("已关闭（已退款）")
    expect(closed).not_to_contain_text("学习中")
    screenshot(phone, "dashboard-refunded-375")
    _nav(phone, "我的发票").click()
    invoice.refresh_from_db()
    red = Invoice.objects.get(original=invoice)
    assert (invoice.status, red.kind, red.total_fen) == ("reversed", "red", -19800)
    expect(phone.locator("li.invoice-item", has_text=f"发票号码：{invoice.number}")).to_contain_text("已红冲")
    red_item = phone.locator("li.invoice-item", has_text=f"发票号码：{red.number}")
    expect(red_item).to_contain_text("红字")
    expect(red_item).to_contain_text(f"冲销发票：{invoice.number}")
    expect(phone.locator("main")).not_to_contain_text("可申请开票的订单")
    screenshot(phone, "invoices-reversed-375")
    resp = phone.request.get(red_item.get_by_role("link", name="下载 PDF").get_attribute("href"))
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    text = _pdftotext(resp.body(), tmp_path, "red.pdf")
    assert "红字" in text and "-198.00" in text and invoice.number in text


def test_desktop_wechat_native_and_alipay_query_journey(
    new_page, new_phone_page, screenshot, site, register_learner
):
    import zxingcpp
    from PIL import Image

    from cpe.orders.models import Order, PaymentNotification
    from cpe.sandbox.testing import sandbox_trade

    user = _learner(register_learner, mobile="13900000021", name="赵大伟", ais_status="found")
    orders = Order.objects.filter(user=user)

    # 1. On a PC the channels are Alipay page pay and WeChat Native; no AIS warning for a
    #    learner found in the AIS.
    pc = new_page(*DESKTOP)
    _sign_in(pc, user.mobile, LEARNER_PASSWORD)
    pc.get_by_role("link", name="去选课").click()
    _product_row(pc, ANNUAL_TITLE).get_by_role("link", name="购买").click()
    expect(pc.get_by_role("heading", name="确认购买")).to_be_visible()
    assert _radio_labels(pc) == ["支付宝（电脑网站支付）", "微信支付（扫码支付）"]
    expect(pc.get_by_role("checkbox")).to_have_count(0)
    # The same browser in a phone-wide window: the page switches to the phone channels (no QR).
    pc.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    pc.reload()
    assert _radio_labels(pc) == ["支付宝（手机网站支付）", "微信支付（H5 支付）"]
    expect(pc.get_by_role("radio", name="支付宝（手机网站支付）")).to_be_checked()
    screenshot(pc, "buy-desktop-ua-narrow-375")
    pc.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    pc.reload()
    assert _radio_labels(pc) == ["支付宝（电脑网站支付）", "微信支付（扫码支付）"]
    pc.get_by_role("radio", name="微信支付（扫码支付）").check()
    pc.get_by_role("button", name="去支付 ¥198.00").click()

    # 2. The QR page: an SVG QR code that decodes to the sandbox cashier, and a waiting status.
    order = orders.get()
    expect(pc).to_have_url(re.compile(rf"/orders/{order.number}/qr/$"))
    expect(pc.get_by_role("heading", name="微信扫码支付")).to_be_visible()
    expect(pc.locator(".qr svg")).to_be_visible()
    expect(pc.locator("#pay-status")).to_have_text("等待支付……")
    expect(pc.locator("main")).to_contain_text("¥198.00")
    expect(pc.get_by_role("link", name=re.compile("模拟扫码"))).to_have_count(0)  # DEBUG is off
    screenshot(pc, "wechat-qr-1280")
    with Image.open(io.BytesIO(pc.locator(".qr").screenshot())) as img:
        codes = [b.text for b in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]
    trade = sandbox_trade(order.number, "wechat")
    assert codes == [f"{site}/sandbox/pay/{trade.token}/"]
    assert (trade.kind, trade.amount_fen) == ("native", 19800)

    # 3. "Scan" with a phone: the WeChat (sandbox) cashier; 支付成功 there.
    scanner = new_phone_page(*PHONE)
    scanner.goto(codes[0])
    expect(scanner.locator("header.bar.wechat")).to_contain_text("微信支付")
    expect(scanner.get_by_label("应付金额 198.00 元")).to_be_visible()
    screenshot(scanner, "wechat-sandbox-375")
    scanner.get_by_role("button", name="支付成功").click()
    expect(scanner.get_by_role("heading", name="支付成功")).to_be_visible()
    expect(scanner.locator("main")).to_contain_text("请回到商户页面查看订单状态")

    # 4. The PC's status poller notices and moves on to the result page by itself.
    expect(pc).to_have_url(re.compile(rf"/orders/{order.number}/result/$"), timeout=PAY_TIMEOUT_MS)
    expect(pc.get_by_role("heading", name="支付成功")).to_be_visible()
    order.refresh_from_db()
    assert (order.status, order.gateway, order.channel) == ("paid", "wechat", "wechat_native")
    valid_until = _local(order.enrolment.valid_until)
    assert order.enrolment.valid_until == order.paid_at + timedelta(days=90)
    expect(pc.locator("main")).to_contain_text(f"课程已开通，有效期至 {valid_until}（90 天）")
    assert PaymentNotification.objects.filter(order=order, outcome="activated").count() == 1
    screenshot(pc, "wechat-paid-1280")

    # 5. The single course is part of the valid annual course: the catalogue says so (no 购买),
    #    and its purchase page, opened directly, does not sell it again.
    pc.goto("/courses/")
    expect(_product_row(pc, SINGLE_TITLE)).to_contain_text("年度课程已包含")
    expect(_product_row(pc, SINGLE_TITLE).get_by_role("link", name="购买")).to_have_count(0)
    expect(_product_row(pc, ANNUAL_TITLE)).to_contain_text("已购买")
    screenshot(pc, "catalog-held-1280")
    pc.goto(f"/orders/buy/{SINGLE}/")
    pc.get_by_role("radio", name="支付宝（电脑网站支付）").check()
    pc.get_by_role("button", name="去支付 ¥30.00").click()
    expect(pc.locator(".form-errors")).to_contain_text("年度课程包含该课程")
    assert not orders.filter(product__code=SINGLE).exists()

    # 6. Once the annual course has expired, the single course with Alipay page pay, pressing
    #    只支付不通知: no notification ever comes, the return page asks the gateway.
    from cpe.learning.models import Enrolment

    Enrolment.objects.filter(order=order).update(valid_until=timezone.now() - timedelta(seconds=1))
    pc.goto("/courses/")
    _product_row(pc, SINGLE_TITLE).get_by_role("link", name="购买").click()
    pc.get_by_role("radio", name="支付宝（电脑网站支付）").check()
    pc.get_by_role("button", name="去支付 ¥30.00").click()
    expect(pc).to_have_url(re.compile(r"/sandbox/pay/[\w-]+/$"))
    expect(pc.get_by_label("应付金额 30.00 元")).to_be_visible()
    single = orders.get(product__code=SINGLE)
    # 支付失败 first: back in the shop, the page says the payment failed (not 等待支付结果) and
    # offers paying again; nothing is paid.
    pc.get_by_role("button", name="支付失败").click()
    expect(pc).to_have_url(re.compile(rf"/orders/{single.number}/result/$"))
    expect(pc.get_by_role("heading", name="支付未完成")).to_be_visible()
    expect(pc.get_by_role("alert")).to_contain_text("支付失败或已取消，未扣款")
    expect(pc.locator("main")).not_to_contain_text("等待支付结果")
    assert _radio_labels(pc) == ["支付宝（电脑网站支付）", "微信支付（扫码支付）"]
    expect(pc.get_by_role("radio", name="支付宝（电脑网站支付）")).to_be_checked()
    screenshot(pc, "pay-failed-1280")
    single.refresh_from_db()
    assert single.status == "pending" and not single.paid_at
    pc.get_by_role("button", name="重新支付 ¥30.00").click()
    expect(pc).to_have_url(re.compile(r"/sandbox/pay/[\w-]+/$"))
    expect(pc.get_by_label("应付金额 30.00 元")).to_be_visible()
    pc.get_by_role("button", name="只支付不通知").click()
    expect(pc).to_have_url(re.compile(rf"/orders/{single.number}/result/\?"))
    expect(pc.get_by_role("heading", name="支付成功")).to_be_visible()
    single.refresh_from_db()
    assert (single.status, single.gateway, single.channel) == ("paid", "alipay", "alipay_page")
    assert single.gateway_txn_id == sandbox_trade(single.number, "alipay").trade_no
    assert not PaymentNotification.objects.filter(order=single).exists()
    expect(pc.locator("main")).to_contain_text(f"有效期至 {_local(single.enrolment.valid_until)}")
    screenshot(pc, "alipay-query-paid-1280")

    _nav(pc, "我的订单").click()
    expect(pc.locator("section.order .order-head .badge")).to_have_text(["已支付", "已支付"])
    expect(pc.locator("section.order").filter(has_text=f"{YEAR} 年度会计人员继续教育课程")).to_contain_text(
        "超期课程"
    )
    screenshot(pc, "orders-1280")
