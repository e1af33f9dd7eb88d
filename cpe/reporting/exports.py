"""The year's results as an Excel workbook (rules R9.2), streamed.

The ledger is read with `.values_list(...).iterator(chunk_size=…)` (one server-side cursor on
PostgreSQL, no model instances, no list of the table) and written straight into the .xlsx zip
as SpreadsheetML: one string per row, inline strings (no shared-string table to hold), a few
hundred rows per write, deflated by a background thread (zlib works without the GIL, so the
compression overlaps the formatting). A general-purpose writer (openpyxl, XlsxWriter) spends
most of the time on per-cell objects and calls; this sheet has 16 fixed columns, so the row
is one f-string.

Cell rules: ID numbers and mobiles are text cells with the "@" (text, numFmtId 49) style;
every other free-text cell is passed through policy.excel_safe; nothing is ever written as a
formula (only `t="inlineStr"` and numeric cells exist). Text is XML-escaped; characters XML
1.0 cannot carry (C0 controls other than tab/LF/CR, U+FFFE/U+FFFF) become U+FFFD."""

import queue
import re
import threading
import zipfile
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import lru_cache

from django.db.models import FilteredRelation, Q
from django.utils import timezone
from openpyxl.writer.theme import theme_xml

from cpe.accounts.states import Region
from cpe.credits.models import CreditRecord, RecordStatus

from . import policy
from .states import ReportKind, ReportState

HEADERS = [
    "年度",
    "管理地区",
    "姓名",
    "身份证号码",
    "手机号码",
    "工作单位",
    "课程编号",
    "课程名称",
    "类别",
    "学时",
    "学分",
    "成绩",
    "考试合格时间",
    "学时记录编号",
    "上报状态",
    "上报回执号",
]
CATEGORY = {"professional": "专业科目", "public": "公需科目"}
REGIONS = dict(Region.choices)
STATE_LABELS = dict(ReportState.choices)


def export_queryset(year: int, region: str = ""):
    qs = CreditRecord.objects.filter(year__year=year, status=RecordStatus.ACTIVE).annotate(
        credit_report=FilteredRelation("ais_reports", condition=Q(ais_reports__kind=ReportKind.CREDIT))
    )
    if region:
        qs = qs.filter(user__region=region)
    return qs


def export_rows(year: int, region: str = ""):
    """(row count, an iterator of plain value tuples) for the export."""
    qs = export_queryset(year, region)
    total = qs.count()
    values = qs.order_by("user__region", "user_id", "passed_at", "id").values_list(
        "user__region",
        "user__name",
        "user__id_number",
        "user__mobile",
        "user__employer",
        "course_code",
        "course_title",
        "category",
        "hours",
        "credits",
        "score",
        "passed_at",
        "uid",
        "credit_report__state",
        "credit_report__receipt_no",
    )
    return total, values.iterator(chunk_size=policy.EXPORT_CHUNK)


# --- the SpreadsheetML package -----------------------------------------------------------------
# Deflate level of the zip (zlib's default). It runs in the background thread: on the bench 6
# costs ~1-2 s more than 1 and gives a ~20 % smaller file (43 MB rather than 53 MB).
EXPORT_ZIP_LEVEL = 6
_ROWS_PER_WRITE = 500
_COLS = [chr(ord("A") + i) for i in range(len(HEADERS))]
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_OD = "http://schemas.openxmlformats.org/officeDocument/2006"
_REL = f"{_OD}/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_PKG_REL = f"{_PKG}/relationships"
_CT = "application/vnd.openxmlformats-officedocument"
# The header row is frozen; a few columns get a width that shows their text whole.
_WIDTHS = {3: 10, 4: 21, 5: 13, 6: 28, 8: 24, 13: 20, 14: 37, 16: 16}
_SHEET_HEAD = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}">'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/><cols>'
    + "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in _WIDTHS.items())
    + "</cols><sheetData>"
)
_SHEET_TAIL = (
    '</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
    'footer="0.5"/></worksheet>'
)


def _xml(value: str) -> str:
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")  # a parser would turn a raw CR into LF
    if _ILLEGAL_XML.search(value):
        value = _ILLEGAL_XML.sub("\ufffd", value)
    return value


def _text(value: str) -> str:
    """The rest of a text cell after `<c r="…"` (the value written as it is): an inline string,
    or, for "", an empty cell as openpyxl writes it."""
    if not value:
        return ' t="inlineStr"/>'
    if value[0] in " \t\n\r" or value[-1] in " \t\n\r":
        return f' t="inlineStr"><is><t xml:space="preserve">{_xml(value)}</t></is></c>'
    return f' t="inlineStr"><is><t>{_xml(value)}</t></is></c>'


@lru_cache(maxsize=8192)
def _safe_text(value: str) -> str:
    """The same for free text, escaped against formula injection first (policy.excel_safe).
    Cached: employers, course codes, titles and names repeat from row to row."""
    return _text(policy.excel_safe(value))


_label = lru_cache(maxsize=256)(_text)  # our own labels (region, category, report state)


def _package_parts(sheet_name: str):
    """Every part but the sheet's data: (name in the zip, XML)."""
    now = datetime.now(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    decl = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    yield (
        "[Content_Types].xml",
        (
            f'{decl}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
            f'<Override PartName="/xl/theme/theme1.xml" ContentType="{_CT}.theme+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/></Types>'
        ),
    )
    yield (
        "_rels/.rels",
        (
            f'{decl}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{_PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>"
        ),
    )
    yield (
        "docProps/app.xml",
        (
            f'{decl}<Properties xmlns="{_OD}/extended-properties"><Application>Microsoft Excel</Application>'
            "</Properties>"
        ),
    )
    yield (
        "docProps/core.xml",
        (
            f'{decl}<cp:coreProperties xmlns:cp="{_PKG}/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>cpe</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>'
        ),
    )
    yield (
        "xl/workbook.xml",
        (
            f'{decl}<workbook xmlns="{_NS}" xmlns:r="{_REL}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews>'
            f'<sheets><sheet name="{_xml(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
    )
    yield (
        "xl/_rels/workbook.xml.rels",
        (
            f'{decl}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/theme" Target="theme/theme1.xml"/></Relationships>'
        ),
    )
    # Two cell formats: 0 the default, 1 text ("@", built-in number format 49) for IDs and mobiles.
    yield (
        "xl/styles.xml",
        (
            f'{decl}<styleSheet xmlns="{_NS}"><fonts count="1"><font><sz val="11"/><color theme="1"/>'
            '<name val="Calibri"/><family val="2"/><scheme val="minor"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
            '<cellStyles count="1">'
            '<cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
        ),
    )
    yield "xl/theme/theme1.xml", theme_xml


class _BackgroundWriter:
    """Hands byte chunks to a thread that writes (deflates) them into the zip member, a few
    chunks ahead at most (bounded queue: memory stays flat). An error in the thread is raised
    in the caller on the next write or at exit."""

    def __init__(self, raw, depth: int = 8):
        self._raw, self._q, self._error = raw, queue.Queue(maxsize=depth), None
        self._thread = threading.Thread(target=self._run, name="xlsx-deflate", daemon=True)

    def _run(self):
        while (chunk := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._raw.write(chunk)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._error = exc

    def write(self, chunk: bytes):
        if self._error is not None:
            raise self._error
        self._q.put(chunk)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._q.put(None)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error
        return False


def write_workbook(path, year: int, rows, *, progress=None) -> int:
    """Write the rows to `path`; `progress(n)` is called every EXPORT_PROGRESS_EVERY rows.
    Returns how many rows were written."""
    tz = timezone.get_current_timezone()
    ys = str(int(year))
    every, safe = policy.EXPORT_PROGRESS_EVERY, policy.excel_safe
    n = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=EXPORT_ZIP_LEVEL) as zf:
        for name, xml in _package_parts(f"{year}年度学时"):
            zf.writestr(name, xml)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw, _BackgroundWriter(raw) as out:
            out.write(_SHEET_HEAD.encode())
            out.write(
                (
                    '<row r="1">'
                    + "".join(f'<c r="{col}1"{_text(h)}' for col, h in zip(_COLS, HEADERS, strict=True))
                    + "</row>"
                ).encode()
            )
            buf = []
            for (
                region,
                name,
                id_number,
                mobile,
                employer,
                course_code,
                course_title,
                category,
                hours,
                credits,
                score,
                passed_at,
                uid,
                state,
                receipt,
            ) in rows:
                n += 1
                r = str(n + 1)
                passed = passed_at.astimezone(tz).isoformat(" ", "seconds")[:19]  # YYYY-MM-DD HH:MM:SS
                buf.append(
                    f'<row r="{r}"><c r="A{r}"><v>{ys}</v></c>'
                    f'<c r="B{r}"{_label(REGIONS.get(region, region))}'
                    f'<c r="C{r}"{_safe_text(name or "")}'
                    f'<c r="D{r}" s="1"{_text(id_number or "")}'
                    f'<c r="E{r}" s="1"{_text(mobile or "")}'
                    f'<c r="F{r}"{_safe_text(employer or "")}'
                    f'<c r="G{r}"{_safe_text(course_code)}'
                    f'<c r="H{r}"{_safe_text(course_title)}'
                    f'<c r="I{r}"{_label(CATEGORY.get(category, category))}'
                    f'<c r="J{r}"><v>{int(hours)}</v></c><c r="K{r}"><v>{int(credits)}</v></c>'
                    f'<c r="L{r}"><v>{int(score)}</v></c>'
                    f'<c r="M{r}" t="inlineStr"><is><t>{passed}</t></is></c>'
                    f'<c r="N{r}" t="inlineStr"><is><t>{uid}</t></is></c>'
                    f'<c r="O{r}"{_label(STATE_LABELS.get(state, "未上报") if state else "未上报")}'
                    f'<c r="P{r}"{_text(safe(receipt or ""))}</row>'
                )  # unique: not cached
                if len(buf) == _ROWS_PER_WRITE:
                    out.write("".join(buf).encode())
                    buf.clear()
                if progress is not None and n % every == 0:
                    progress(n)
            out.write(("".join(buf) + _SHEET_TAIL).encode())
    return n
