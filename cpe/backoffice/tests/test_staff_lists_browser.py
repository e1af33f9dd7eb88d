"""Staff lists at 1280 px in Debian's chromium: every column of the refund queue, the AIS queue
and the audit log is in view (the filter column used to push 状态 and 申请时间 out of sight).
At 375 px each row is a card of "column: value" lines, every one inside the screen."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CHROMIUM = Path("/usr/bin/chromium")

# Every header cell and the scroll box around the table, measured in the page.
MEASURE = """() => {
  const box = document.querySelector('#changelist-form .results');
  const vw = document.documentElement.clientWidth;
  const cells = [...document.querySelectorAll('#result_list thead th')].map(th => {
    const r = th.getBoundingClientRect(), b = box.getBoundingClientRect();
    return {text: th.innerText.trim(), right: r.right, hidden: r.right > Math.min(vw, b.right) + 1};
  });
  const pageScroll = document.documentElement.scrollWidth - vw;
  return {cells, hiddenByScroll: box.scrollWidth - box.clientWidth, pageScroll};
}"""


# At 375 px: every cell of every row, its label (the column header) and its right edge.
MEASURE_PHONE = """() => {
  const vw = document.documentElement.clientWidth;
  const rows = [...document.querySelectorAll('#result_list tbody tr')].map(tr => [...tr.children].map(c => ({
    label: c.dataset.label || '', right: c.getBoundingClientRect().right, text: c.innerText.trim()})));
  return {vw, rows, pageScroll: document.documentElement.scrollWidth - vw};
}"""


@pytest.fixture
def staff_world(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    from cpe.accounts.models import User
    from cpe.backoffice.demo import annual_code, demo_seed, demo_years
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.services import order_create, payment_confirm, refund_request

    now = timezone.now()
    demo_seed(history=True, at=now)
    learner = User.objects.get(username="demo-learner")
    _, this = demo_years(now)
    order = order_create(user=learner, product_code=annual_code(this), ais_confirmed=True, at=now)
    payment_confirm(
        gateway_name="alipay",
        at=now,
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="T" + order.number,
            amount_fen=order.amount_fen,
            paid_at=now - timedelta(hours=1),
        ),
    )
    refund_request(user=learner, order_number=order.number, reason="单位统一安排培训，重复购买")
    return {key: User.objects.get(username=key) for key in ("finance", "operator", "auditor")}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
@pytest.mark.parametrize(
    "who, path, must_show",
    [
        ("finance", "/admin/orders/refund/", ["状态", "申请时间", "审核人"]),
        ("operator", "/admin/reporting/aisreport/", ["学员", "课程", "状态", "回执号", "更新时间"]),
        ("auditor", "/admin/core/auditevent/", ["事件", "操作人", "对象", "IP"]),
    ],
)
def test_every_column_in_view_at_1280_and_375(staff_world, live_server, settings, who, path, must_show):
    from playwright.sync_api import sync_playwright

    c = Client()
    c.force_login(staff_world[who])
    cookie = c.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
            page = ctx.new_page()
            assert page.goto(live_server.url + path).status == 200
            assert page.locator("#changelist-filter").is_visible()  # the filters are still there
            m = page.evaluate(MEASURE)
            headers = [cell["text"] for cell in m["cells"]]
            for name in must_show:
                assert any(name in h for h in headers), (name, headers)
            assert [cell["text"] for cell in m["cells"] if cell["hidden"]] == []
            assert m["hiddenByScroll"] <= 0 and m["pageScroll"] <= 0, m
            if "aisreport" in path:  # the key is read short, not as a wide column
                key = page.locator("#result_list td.field-report_ref, #result_list th.field-report_ref").first
                assert key.bounding_box()["width"] < 140 and key.inner_text().endswith("…")

            page.set_viewport_size({"width": 375, "height": 812})
            page.reload()
            m = page.evaluate(MEASURE_PHONE)
            assert m["rows"] and m["pageScroll"] <= 0, m
            for row in m["rows"]:
                labels = [cell["label"] for cell in row]
                for name in must_show:
                    assert any(name in label for label in labels), (name, labels)
                assert [c for c in row if c["right"] > m["vw"] + 1] == [], row
        finally:
            browser.close()
