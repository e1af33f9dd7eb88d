"""Pages as a learner (and a stranger) uses them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.invoicing import services
from cpe.invoicing.models import Invoice
from cpe.orders.models import Order

from .factories import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, learner):
    client.force_login(learner)
    return client


def _issue(user, order):
    return services.invoice_request(user=user, order_number=order.number, buyer_type="personal")


def test_pages_need_login_except_verify(client, learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    inv = _issue(learner, order)
    for url in [
        reverse("invoicing:list"),
        reverse("invoicing:request", args=[order.number]),
        reverse("invoicing:pdf", args=[inv.number]),
    ]:
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith(reverse("accounts:login"))
    assert client.get(reverse("invoicing:verify", args=[inv.verify_token])).status_code == 200


def test_request_form_has_labels_and_issues_personal_invoice(logged_in, learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    url = reverse("invoicing:request", args=[order.number])
    html = logged_in.get(url).content.decode()
    assert "申请发票" in html and "张三" in html and order.number in html
    for label in ["发票抬头类型", "单位名称", "单位类型", "统一社会信用代码（纳税人识别号）"]:
        assert label in html
    for field_id in ["id_buyer_name", "id_unit_kind", "id_taxpayer_id"]:
        assert f'<label for="{field_id}">' in html
    assert "行政事业单位" in html and "个人" in html
    r = logged_in.post(url, {"buyer_type": "personal", "buyer_name": "别人"})
    assert r.status_code == 302 and r.url == reverse("invoicing:list")
    inv = Invoice.objects.get(order=order)
    assert inv.buyer_name == "张三"
    page = logged_in.get(reverse("invoicing:list")).content.decode()
    assert inv.number in page and reverse("invoicing:pdf", args=[inv.number]) in page and "发票已开具" in page
    again = logged_in.get(url).content.decode()
    assert "该订单已开具发票" in again and reverse("invoicing:pdf", args=[inv.number]) in again


def test_unit_errors_are_chinese_next_to_the_field(logged_in, learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    url = reverse("invoicing:request", args=[order.number])
    r = logged_in.post(
        url,
        {"buyer_type": "unit", "buyer_name": "包头市某公司", "unit_kind": "enterprise", "taxpayer_id": ""},
    )
    html = r.content.decode()
    assert r.status_code == 400
    assert 'id="id_taxpayer_id-error">企业抬头必须填写统一社会信用代码（纳税人识别号）。' in html
    r = logged_in.post(
        url,
        {
            "buyer_type": "unit",
            "buyer_name": "包头市某公司",
            "unit_kind": "enterprise",
            "taxpayer_id": "914403001922038217",
        },
    )
    assert "校验位不正确" in r.content.decode()
    r = logged_in.post(url, {"buyer_type": "unit", "buyer_name": "", "unit_kind": "public"})
    assert 'id="id_buyer_name-error">请填写单位名称。' in r.content.decode()
    assert not Invoice.objects.exists()
    r = logged_in.post(
        url,
        {
            "buyer_type": "unit",
            "buyer_name": "包头市某公司",
            "unit_kind": "enterprise",
            "taxpayer_id": "914403001922038216",
        },
    )
    assert r.status_code == 302 and Invoice.objects.get().taxpayer_id == "914403001922038216"


def test_past_cutoff_page_says_so_plainly(logged_in, learner):
    paid = timezone.now() - timedelta(days=500)
    order = make_order(learner, paid_at=paid)
    url = reverse("invoicing:request", args=[order.number])
    html = logged_in.get(url).content.decode()
    assert (
        "该订单不能开具发票" in html and "现已不能开具" in html and "<form" not in html.split("</header>")[1]
    )
    r = logged_in.post(url, {"buyer_type": "personal"})
    assert r.status_code == 400 and "现已不能开具" in r.content.decode()
    assert not Invoice.objects.exists()


def test_other_users_order_and_pdf_are_404(client, learner, other_learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    inv = _issue(learner, order)
    client.force_login(other_learner)
    assert client.get(reverse("invoicing:request", args=[order.number])).status_code == 404
    assert client.get(reverse("invoicing:pdf", args=[inv.number])).status_code == 404
    assert client.get(reverse("invoicing:pdf", args=["00000000000000000000"])).status_code == 404
    assert inv.number not in client.get(reverse("invoicing:list")).content.decode()


def test_owner_downloads_pdf(logged_in, learner):
    inv = _issue(learner, make_order(learner, paid_at=timezone.now() - timedelta(hours=1)))
    r = logged_in.get(reverse("invoicing:pdf", args=[inv.number]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert "attachment" in r["Content-Disposition"] and "no-store" in r["Cache-Control"]
    body = b"".join(r.streaming_content)
    assert body.startswith(b"%PDF") and body == inv.pdf.open("rb").read()


def test_verify_page_shows_status_and_masks_a_person(client, learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    inv = _issue(learner, order)
    r = client.get(reverse("invoicing:verify", args=[inv.verify_token]))
    html = r.content.decode()
    assert r.status_code == 200 and r["X-Robots-Tag"].startswith("noindex")
    assert inv.number in html and "正常" in html and "张*" in html and "张三" not in html and "198.00" in html
    Order.objects.filter(pk=order.pk).update(status="refunded")
    red = services.invoice_reverse_for_order(order=order, reason="退款")
    html = client.get(reverse("invoicing:verify", args=[inv.verify_token])).content.decode()
    assert "已红冲" in html and red.number in html
    html = client.get(reverse("invoicing:verify", args=[red.verify_token])).content.decode()
    assert "红字发票" in html and inv.number in html and "-198.00" in html
    assert client.get(reverse("invoicing:verify", args=["no-such-token"])).status_code == 404


def test_list_offers_open_orders(logged_in, learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    html = logged_in.get(reverse("invoicing:list")).content.decode()
    assert "暂无发票" in html and reverse("invoicing:request", args=[order.number]) in html


def test_order_partial_renders_each_state(learner):
    from django.template.loader import render_to_string

    from cpe.invoicing.selectors import invoice_state_for_orders

    now = timezone.now()
    fresh = make_order(learner, paid_at=now - timedelta(hours=1))
    old = make_order(learner, paid_at=now - timedelta(days=500))
    done = make_order(learner, paid_at=now - timedelta(hours=1))
    inv = _issue(learner, done)
    states = invoice_state_for_orders(learner, [fresh, old, done])
    html = {
        o.pk: render_to_string("invoicing/partials/order_invoice.html", {"order": o, "state": states[o.pk]})
        for o in (fresh, old, done)
    }
    assert reverse("invoicing:request", args=[fresh.number]) in html[fresh.pk]
    assert "现已不能开具" in html[old.pk]
    assert reverse("invoicing:pdf", args=[inv.number]) in html[done.pk]
