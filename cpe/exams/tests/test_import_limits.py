"""The question-bank upload is bounded (attacker review: a 6 KB .xlsx that declares a sheet of
16 384 columns × 1 048 576 rows made the import pad every row to that width, 38 MiB). Caps on
the file, its unpacked size, the declared dimension and the rows; only the template's columns are
read; a refused file imports nothing and says why in Chinese."""

import io
import re
import tracemalloc
import zipfile

import pytest
from django.urls import reverse

from cpe.exams import importer, policy
from cpe.exams.models import Question

from .test_views import GOOD, _xlsx

pytestmark = pytest.mark.django_db


def _rewrite_sheet(buf, edit):
    """A copy of the .xlsx with its first sheet's XML passed through `edit`."""
    src = zipfile.ZipFile(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode()).encode()
            dst.writestr(info, data)
    out.seek(0)
    out.name = "bank.xlsx"
    return out


def _declared(ref):
    return lambda xml: re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>', xml)


def _far_cell(xml):
    """No dimension, and one cell at the sheet's last row and column."""
    xml = re.sub(r'<dimension ref="[^"]*"/>', "", xml)
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return xml.replace("</sheetData>", far + "</sheetData>")


def _peak_mib(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "edit,words",
    [
        (_declared("A1:XFD1048576"), "列"),  # the attack: a huge declared width and height
        (_declared("A1:M1048576"), "行"),  # the template's width, a whole column formatted
        (_declared(f"A1:M{policy.IMPORT_MAX_ROWS + 2}"), "行"),
        (_declared(f"A1:{'AA'}4"), "列"),  # one column too wide
    ],
)
def test_declared_dimension_over_the_caps_refused(course, edit, words):
    before = Question.objects.count()
    f = _rewrite_sheet(_xlsx(GOOD), edit)
    assert len(f.getvalue()) < 20_000
    report, peak = _peak_mib(lambda: importer.import_workbook(f))
    assert not report.ok and report.created == 0
    ((row, message),) = report.errors
    assert words in message and "上限" in message
    assert Question.objects.count() == before
    assert peak < 8  # the old import took ~38 MiB on the first case


def test_no_dimension_and_a_far_cell_read_only_to_the_caps(course):
    """A sheet that hides its size (no dimension element) is still read only to the row cap and
    the template's columns: refused for its rows, never padded to 16 384 columns."""
    before = Question.objects.count()
    f = _rewrite_sheet(_xlsx(GOOD), _far_cell)
    report, peak = _peak_mib(lambda: importer.import_workbook(f))
    assert not report.ok and "行数超过上限" in report.errors[0][1]
    assert Question.objects.count() == before
    assert peak < 8


def test_extra_columns_within_the_cap_are_not_read(course):
    rows = [r + [""] * (len(importer.HEADERS) - len(r)) + ["备注", '=HYPERLINK("x")'] for r in GOOD]
    report = importer.import_workbook(_xlsx(rows))
    assert report.ok and report.created == 3


def test_too_many_rows_refused(course, monkeypatch):
    monkeypatch.setattr(policy, "IMPORT_MAX_ROWS", 2)
    before = Question.objects.count()
    report = importer.import_workbook(_xlsx(GOOD))  # 3 question rows
    assert not report.ok and "行" in report.errors[0][1] and "上限" in report.errors[0][1]
    assert Question.objects.count() == before
    monkeypatch.setattr(policy, "IMPORT_MAX_ROWS", 3)
    assert importer.import_workbook(_xlsx(GOOD)).created == 3  # exactly at the cap
    # Rows beyond the cap in a sheet that declares no dimension: refused by counting.
    monkeypatch.setattr(policy, "IMPORT_MAX_ROWS", 2)
    no_dim = _rewrite_sheet(_xlsx(GOOD), lambda xml: re.sub(r'<dimension ref="[^"]*"/>', "", xml))
    assert "一次最多导入 2 道试题" in importer.import_workbook(no_dim).errors[0][1]


def test_zip_bomb_refused_before_parsing(course):
    """A part that inflates far beyond the cap (its stated size) is refused unread."""
    before = Question.objects.count()
    out = io.BytesIO()
    src = zipfile.ZipFile(_xlsx(GOOD))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        dst.writestr("xl/media/padding.bin", b"\0" * (policy.IMPORT_MAX_UNPACKED_BYTES + 1))
    out.seek(0)
    assert len(out.getvalue()) < 200_000
    report = importer.import_workbook(out)
    assert not report.ok and "解压后超过" in report.errors[0][1]
    assert Question.objects.count() == before


def test_not_a_zip_refused_clearly(course):
    report = importer.import_workbook(io.BytesIO(b"<html>not a workbook</html>"))
    assert report.errors == [(0, "无法读取文件：请上传由模板填写的 .xlsx 文件")]


def test_admin_refuses_an_oversized_upload(client, course, django_user_model, monkeypatch):
    from django.contrib.auth.models import Permission

    editor = django_user_model.objects.create_user("ed", "x", name="编辑", is_staff=True)
    editor.user_permissions.add(*Permission.objects.filter(codename__in=["add_question", "view_question"]))
    client.force_login(editor)
    monkeypatch.setattr(policy, "IMPORT_MAX_FILE_BYTES", 1000)
    before = Question.objects.count()
    resp = client.post(reverse("admin:exams_question_import"), {"file": _xlsx(GOOD)})
    assert resp.status_code == 200 and "文件过大" in resp.content.decode()
    assert Question.objects.count() == before
    # The same file through the importer directly is refused too.
    assert "文件过大" in importer.import_workbook(_xlsx(GOOD)).errors[0][1]


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"file_bytes": policy.IMPORT_MAX_FILE_BYTES}, ""),
        ({"file_bytes": policy.IMPORT_MAX_FILE_BYTES + 1}, "文件过大"),
        ({"unpacked_bytes": policy.IMPORT_MAX_UNPACKED_BYTES + 1}, "解压后"),
        ({"declared_columns": policy.IMPORT_MAX_COLUMNS}, ""),
        ({"declared_columns": policy.IMPORT_MAX_COLUMNS + 1}, "列"),
        ({"declared_rows": policy.IMPORT_MAX_ROWS + 1}, ""),
        ({"declared_rows": policy.IMPORT_MAX_ROWS + 2}, "行"),
        ({"data_rows": policy.IMPORT_MAX_ROWS}, ""),
        ({"data_rows": policy.IMPORT_MAX_ROWS + 1}, "一次最多"),
        ({"declared_rows": None, "declared_columns": None}, ""),
    ],
)
def test_import_limits_policy(kw, fragment):
    problem = policy.import_limits_problem(**kw)
    assert (fragment in problem and problem) if fragment else problem == ""
