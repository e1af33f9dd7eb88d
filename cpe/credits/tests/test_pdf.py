"""Certificate PDFs as a reader sees them: text via pdftotext, the QR code decoded back to the
verification URL (pdftoppm + zxing-cpp)."""

import subprocess

import pytest
import zxingcpp
from PIL import Image

from cpe.credits.certificates import certificate_pdf
from cpe.credits.models import Certificate
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters

pytestmark = pytest.mark.django_db


def pdf_text(path) -> str:
    """The text with spaces removed (the letter-spaced title comes out as 学 时 证 明)."""
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return out.replace(" ", "")


def pdf_qr_texts(path, tmp_path) -> list[str]:
    prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(path), str(prefix)], check=True
    )
    png = next(tmp_path.glob("page*.png"))
    with Image.open(png) as img:
        return [b.text for b in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]


def _write(tmp_path, cert, name):
    path = tmp_path / name
    path.write_bytes(certificate_pdf(cert, id_masked="150102********1234"))
    return path


def test_course_and_year_certificate_pdfs(learner, year, paid, tmp_path):
    p = make_course(year, "P1", hours=64)
    g = make_course(year, "G1", category="public", hours=30)
    for c in (p, g):
        complete_chapters(learner, c)
        pass_course(learner, c)
    course_cert = Certificate.objects.get(kind="course", record__course=p)
    text = pdf_text(_write(tmp_path, course_cert, "c.pdf"))
    for expected in [
        "课程合格证明",
        "张三",
        "150102********1234",
        "课程P1",
        "专业科目",
        "64",
        "100分",
        course_cert.number,
        "https://cpe.example.cn/credits/verify/",
    ]:
        assert expected in text, expected
    assert pdf_qr_texts(tmp_path / "c.pdf", tmp_path) == [
        f"https://cpe.example.cn/credits/verify/{course_cert.number}/"
    ]

    year_cert = Certificate.objects.get(kind="year")
    (tmp_path / "y").mkdir()
    path = _write(tmp_path / "y", year_cert, "y.pdf")
    text = pdf_text(path)
    for expected in [
        "学时证明",
        "张三",
        "2026年度",
        "94",
        "专业科目64学时",
        "公需科目30学时",
        "课程P1",
        "课程G1",
        year_cert.number,
    ]:
        assert expected in text, expected
    assert "已撤销" not in text
    assert pdf_qr_texts(path, tmp_path / "y") == [
        f"https://cpe.example.cn/credits/verify/{year_cert.number}/"
    ]


def test_revoked_certificate_pdf_says_so(learner, year, paid, tmp_path):
    from django.utils import timezone

    from cpe.credits.services import credits_revoke_for_order

    c = make_course(year, "P1", hours=24)
    complete_chapters(learner, c)
    pass_course(learner, c)
    credits_revoke_for_order(order=paid, reason="订单退款", at=timezone.now())
    cert = Certificate.objects.get(kind="course")
    assert "已撤销" in pdf_text(_write(tmp_path, cert, "r.pdf"))
