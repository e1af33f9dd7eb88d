"""The PDF as a reader sees it: its text (pdftotext) and its QR code decoded back from a
150 dpi rendering (pdftoppm + zxing-cpp)."""

import subprocess
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import zxingcpp
from PIL import Image

from cpe.invoicing import services
from cpe.orders.models import Order

from .factories import make_order

pytestmark = pytest.mark.django_db

PAID = datetime(2025, 6, 1, 2, tzinfo=dt_timezone.utc)
SOON = PAID + timedelta(days=2)


def pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_qr_texts(path, tmp_path) -> list[str]:
    prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(path), str(prefix)], check=True
    )
    png = next(tmp_path.glob("page*.png"))
    with Image.open(png) as img:
        return [b.text for b in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_blue_pdf_text_and_qr(learner, tmp_path):
    order = make_order(learner, paid_at=PAID)
    inv = services.invoice_request(
        user=learner,
        order_number=order.number,
        buyer_type="unit",
        buyer_name="包头市某会计师事务所有限公司",
        unit_kind="enterprise",
        taxpayer_id="914403001922038216",
        at=SOON,
    )
    text = pdf_text(inv.pdf.path)
    for expected in [
        "电子发票（普通发票）",
        inv.number,
        "2025年06月03日",
        "包头市某会计师事务所有限公司",
        "914403001922038216",
        services.DEMO_SELLER_NAME,
        services.DEMO_SELLER_TAXPAYER_ID,
        "*教育服务*非学历教育培训服务",
        "186.79",
        "6%",
        "11.21",
        "价税合计（大写）",
        "壹佰玖拾捌元整",
        "¥198.00",
        order.number,
    ]:
        assert expected in text, expected
    assert "红字" not in text
    url = f"https://cpe.example.cn/invoices/verify/{inv.verify_token}/"
    assert pdf_qr_texts(inv.pdf.path, tmp_path) == [url]


def test_personal_and_red_pdf(learner, tmp_path):
    order = make_order(learner, paid_at=PAID)
    blue = services.invoice_request(
        user=learner,
        order_number=order.number,
        buyer_type="personal",
        buyer_name="",
        unit_kind="",
        taxpayer_id="",
        at=SOON,
    )
    assert "张三" in pdf_text(blue.pdf.path)
    Order.objects.filter(pk=order.pk).update(status="refunded")
    red = services.invoice_reverse_for_order(order=order, reason="学员申请退款", at=SOON + timedelta(days=1))
    text = pdf_text(red.pdf.path)
    for expected in [
        "红字",
        red.number,
        blue.number,
        "张三",
        "-186.79",
        "-11.21",
        "¥-198.00",
        "（负数）壹佰玖拾捌元整",
        "学员申请退款",
    ]:
        assert expected in text, expected
    assert pdf_qr_texts(red.pdf.path, tmp_path) == [
        f"https://cpe.example.cn/invoices/verify/{red.verify_token}/"
    ]
