"""The year's results as an Excel workbook (SPEC §9.2), streamed: openpyxl's write-only
workbook (rows go to the file as they are appended, strings inline), the ledger read with
`.values_list(...).iterator(chunk_size=…)` (one server-side cursor on PostgreSQL, no model
instances, no list of the table). ID numbers and mobiles are written as text cells with the
"@" number format; every text cell is passed through policy.excel_safe."""
from django.db.models import FilteredRelation, Q
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from cpe.accounts.states import Region

from . import policy
from .states import ReportKind, ReportState

HEADERS = ["年度", "管理地区", "姓名", "身份证号码", "手机号码", "工作单位", "课程编号", "课程名称", "类别",
           "学时", "学分", "成绩", "考试合格时间", "学时记录编号", "上报状态", "上报回执号"]
CATEGORY = {"professional": "专业科目", "public": "公需科目"}
REGIONS = dict(Region.choices)
STATE_LABELS = dict(ReportState.choices)


def export_queryset(year: int, region: str = ""):
    from cpe.credits.models import CreditRecord, RecordStatus

    qs = (CreditRecord.objects.filter(year__year=year, status=RecordStatus.ACTIVE)
          .annotate(credit_report=FilteredRelation("ais_reports", condition=Q(ais_reports__kind=ReportKind.CREDIT))))
    if region:
        qs = qs.filter(user__region=region)
    return qs


def export_rows(year: int, region: str = ""):
    """(row count, an iterator of plain value tuples) for the export."""
    qs = export_queryset(year, region)
    total = qs.count()
    values = qs.order_by("user__region", "user_id", "passed_at", "id").values_list(
        "user__region", "user__name", "user__id_number", "user__mobile", "user__employer", "course_code",
        "course_title", "category", "hours", "credits", "score", "passed_at", "uid", "credit_report__state",
        "credit_report__receipt_no")
    return total, values.iterator(chunk_size=policy.EXPORT_CHUNK)


def write_workbook(path, year: int, rows, *, progress=None) -> int:
    """Write the rows to `path`; `progress(n)` is called every EXPORT_PROGRESS_EVERY rows.
    Returns how many rows were written."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(f"{year}年度学时")
    ws.append(HEADERS)
    # One styled text cell per column, reused: a write-only sheet serialises a row as soon as
    # it is appended, so only the value changes between rows (no style lookup per cell).
    id_cell, mobile_cell = WriteOnlyCell(ws), WriteOnlyCell(ws)
    id_cell.number_format = mobile_cell.number_format = "@"
    tz = timezone.get_current_timezone()
    safe = policy.excel_safe
    n = 0
    for (region, name, id_number, mobile, employer, course_code, course_title, category, hours, credits, score,
         passed_at, uid, state, receipt) in rows:
        id_cell.value = id_number or ""
        mobile_cell.value = mobile or ""
        ws.append([year, REGIONS.get(region, region), safe(name), id_cell, mobile_cell, safe(employer or ""),
                   safe(course_code), safe(course_title), CATEGORY.get(category, category), hours, credits, score,
                   passed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), str(uid),
                   STATE_LABELS.get(state, "未上报") if state else "未上报", safe(receipt or "")])
        n += 1
        if progress is not None and n % policy.EXPORT_PROGRESS_EVERY == 0:
            progress(n)
    wb.save(path)
    return n
