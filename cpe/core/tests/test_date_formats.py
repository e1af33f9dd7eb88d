"""One way to write a date and a time for people (config/formats/zh_Hans/formats.py,
docs/decisions/0020): templates name the formats, Python text goes through cpe.core.datefmt.
Machine formats (gateway protocols, ISO timestamps in JSON, form inputs) are not for reading."""

import re
from datetime import date, datetime, timezone
from pathlib import Path

from django.template import Context, Template
from django.utils import formats

from cpe.core.datefmt import local_date, local_datetime

ROOT = Path(__file__).resolve().parents[3]
NAMED = {"DATE_FORMAT", "DATETIME_FORMAT", "TIME_FORMAT"}
# The invoice PDF reproduces the layout of the national e-invoice (开票日期 2026年12月03日).
TEMPLATE_EXEMPT = {"templates/invoicing/invoice_pdf.html"}
# Text for machines: gateway protocols (Alipay's time format), the sandbox gateway, the
# datetime-local input, the personal-data copy (JSON with seconds).
PYTHON_EXEMPT = {
    "cpe/orders/gateways/alipay.py",
    "cpe/sandbox/protocol.py",
    "cpe/sandbox/services.py",
    "cpe/moderation/forms.py",
    "cpe/accounts/lifecycle.py",
}


def _templates():
    for base in (ROOT / "templates", ROOT / "cpe"):
        for path in base.rglob("*.html"):
            yield path.relative_to(ROOT).as_posix(), path.read_text()


def test_templates_use_only_the_named_formats():
    found = []
    for rel, text in _templates():
        if rel in TEMPLATE_EXEMPT:
            continue
        for m in re.finditer(r"\|(date|time):\s*[\"']([^\"']*)[\"']", text):
            if m.group(2) not in NAMED:
                found.append(f"{rel}: {m.group(0)}")
        for m in re.finditer(r"\d{4}年|年\{\{|\}\}年", text):
            found.append(f"{rel}: {text[max(0, m.start() - 30) : m.end() + 30]!r}")
    assert found == []


def test_python_text_uses_datefmt():
    pattern = re.compile(r"%Y-[^\"'T]*%H|%m月|%d日|\.year\}\s*年\s*\{")  # not %Y%m%d… numbers
    found = []
    for path in (ROOT / "cpe").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if "/tests/" in rel or "/migrations/" in rel or rel in PYTHON_EXEMPT:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == []


def test_one_format_in_templates_python_and_admin_in_beijing_time():
    at = datetime(2026, 12, 3, 1, 23, tzinfo=timezone.utc)  # 09:23 in Beijing
    assert local_datetime(at) == "2026-12-03 09:23"
    assert local_date(at) == "2026-12-03" and local_date(date(2027, 3, 1)) == "2027-03-01"
    html = Template(
        '{{ at }}|{{ at|date:"DATETIME_FORMAT" }}|{{ at|date }}|{{ at|time:"TIME_FORMAT" }}'
    ).render(Context({"at": at}))
    assert html == "2026-12-03 09:23|2026-12-03 09:23|2026-12-03|09:23"
    assert formats.get_format("SHORT_DATETIME_FORMAT") == "Y-m-d H:i"  # the admin's lists
    assert formats.get_format("MONTH_DAY_FORMAT") == "m-d"  # the admin's date drill-down
