"""Question bank import from the Excel template (openpyxl). All rows are checked first; every
bad row is reported by its row number; nothing is imported unless all rows are good."""

import io
import itertools
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from cpe.catalog.models import Chapter, Course
from cpe.core.audit import audit_record
from cpe.core.timewin import local_date

from . import policy
from .models import Question

HEADERS = [
    "课程编号",
    "章节序号",
    "题型",
    "题干",
    "选项A",
    "选项B",
    "选项C",
    "选项D",
    "选项E",
    "选项F",
    "答案",
    "解析",
    "题库",
]
# Files made from the template before the 题库 column existed: every row is an exam question.
LEGACY_HEADERS = HEADERS[:-1]
POOL_NAMES = {
    "练习": policy.POOL_PRACTICE,
    "练习题": policy.POOL_PRACTICE,
    "考试": policy.POOL_EXAM,
    "考试题": policy.POOL_EXAM,
}
TYPE_NAMES = {
    "单选": policy.SINGLE,
    "单选题": policy.SINGLE,
    "多选": policy.MULTIPLE,
    "多选题": policy.MULTIPLE,
    "判断": policy.JUDGE,
    "判断题": policy.JUDGE,
}
JUDGE_ANSWERS = {"正确": 0, "对": 0, "√": 0, "T": 0, "错误": 1, "错": 1, "×": 1, "F": 1}
LETTERS = "ABCDEF"


@dataclass
class ImportReport:
    errors: list = field(default_factory=list)  # (row number, message)
    created: int = 0

    @property
    def ok(self):
        return not self.errors


def template_bytes() -> bytes:
    """The downloadable template: headers, one example per type, and the rules in a sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "题库"
    ws.append(HEADERS)
    for c in ws[1]:
        c.font = Font(bold=True)
    code = f"{local_date(timezone.now()).year}-P01"  # an example course code of this year
    examples = [
        [
            code,
            "1",
            "单选",
            "收入确认的核心原则是什么？",
            "控制权转移",
            "收到现金",
            "开具发票",
            "签订合同",
            "",
            "",
            "A",
            "新收入准则以控制权转移为确认时点。",
            "考试",
        ],
        [
            code,
            "",
            "多选",
            "以下属于金融资产分类的有？",
            "以摊余成本计量",
            "以公允价值计量且其变动计入其他综合收益",
            "以公允价值计量且其变动计入当期损益",
            "长期股权投资",
            "",
            "",
            "ABC",
            "",
            "考试",
        ],
        [
            code,
            "",
            "判断",
            "承租人应对所有租赁确认使用权资产。",
            "",
            "",
            "",
            "",
            "",
            "",
            "错误",
            "短期和低价值资产租赁可简化处理。",
            "考试",
        ],
        [
            code,
            "1",
            "单选",
            "合同资产与应收款项的区别在于？",
            "是否仅取决于时间流逝",
            "金额大小",
            "是否开具发票",
            "是否签订合同",
            "",
            "",
            "A",
            "应收款项是仅取决于时间流逝的无条件收款权。",
            "练习",
        ],
    ]
    for row in examples:
        ws.append(row)
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.data_type = "s"  # text, never a formula (openpyxl writes "=..." as a formula)
    notes = wb.create_sheet("填写说明")
    for line in [
        "题型：单选 / 多选 / 判断",
        "单选、多选：填写 2-6 个选项（选项A 起连续填写），答案填写选项字母，如 A 或 ABD",
        "判断：选项留空，答案填写 正确 或 错误",
        "章节序号可留空；填写时须为该课程已有章节的序号",
        "题库：练习 或 考试，留空为考试。练习题用于章节练习和模考题，学员作答后即显示答案和解析；"
        "考试题只用于正式考试，从不向学员显示答案。同一道题不要同时放入两个题库",
        "章节练习只出现填写了章节序号的练习题",
        "任何一行有误时整份文件都不会导入，请按提示的行号修改后重新上传",
    ]:
        notes.append([line])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def parse_rows(rows, courses: dict, chapters: dict, pools: dict | None = None) -> tuple[list, list]:
    """Check rows (lists of cell values, row numbers from 2). `courses` maps code -> course id,
    `chapters` maps (course id, position) -> chapter id, `pools` maps (course id, question key)
    -> the pool the course's existing question of that text is in. Returns (questions, errors).
    A question text already in the other pool of its course (in the bank or earlier in the
    file) is refused: practice would show the exam question's answer (policy.pool_conflict)."""
    out, errors = [], []
    pools = dict(pools or {})
    for n, row in enumerate(rows, start=2):
        cells = [_text(v) for v in list(row) + [None] * (len(HEADERS) - len(row))][: len(HEADERS)]
        if not any(cells):
            continue
        code, chap, tname, stem, *rest = cells
        options_raw, answer_raw, explanation, pool_raw = rest[:6], rest[6], rest[7], rest[8]
        problems = []
        pool = POOL_NAMES.get(pool_raw) if pool_raw else policy.DEFAULT_POOL
        if pool is None:
            problems.append(f"题库“{pool_raw}”应为 练习 或 考试（留空为考试）")
        course_id = courses.get(code)
        if not code:
            problems.append("缺少课程编号")
        elif course_id is None:
            problems.append(f"课程编号“{code}”不存在")
        qtype = TYPE_NAMES.get(tname)
        if qtype is None:
            problems.append(f"题型“{tname}”应为 单选/多选/判断")
        if not stem:
            problems.append("缺少题干")
        if any(v.startswith("=") for v in cells):
            problems.append("单元格不能以“=”开头（公式）")
        chapter_id = None
        if chap:
            if not chap.isdigit():
                problems.append("章节序号应为数字")
            elif course_id is not None:
                chapter_id = chapters.get((course_id, int(chap)))
                if chapter_id is None:
                    problems.append(f"课程“{code}”没有第 {chap} 章")
        options, answer = [], []
        if qtype == policy.JUDGE:
            options = list(policy.JUDGE_OPTIONS)
            if any(options_raw):
                problems.append("判断题的选项应留空")
            if answer_raw.upper() not in JUDGE_ANSWERS and answer_raw not in JUDGE_ANSWERS:
                problems.append("判断题答案应为“正确”或“错误”")
            else:
                answer = [JUDGE_ANSWERS.get(answer_raw, JUDGE_ANSWERS.get(answer_raw.upper()))]
        elif qtype is not None:
            filled = [o for o in options_raw if o]
            last = max((i for i, o in enumerate(options_raw) if o), default=-1)
            if len(filled) != last + 1:
                problems.append("选项应从选项A 起连续填写")
            if not policy.OPTIONS_MIN <= len(filled) <= 6:
                problems.append("选项应为 2-6 个")
            options = filled
            letters = answer_raw.upper().replace(",", "").replace("，", "").replace(" ", "").replace("、", "")
            if (
                not letters
                or any(ch not in LETTERS[: len(filled)] for ch in letters)
                or len(set(letters)) != len(letters)
            ):
                problems.append(f"答案“{answer_raw}”应为已填写选项的字母")
            else:
                answer = sorted(LETTERS.index(ch) for ch in letters)
                if qtype == policy.SINGLE and len(answer) != 1:
                    problems.append("单选题只能有一个答案")
                if qtype == policy.MULTIPLE and len(answer) < 2:
                    problems.append("多选题至少有两个答案")
        key = (course_id, policy.question_key(stem))
        if course_id is not None and stem and pool is not None and policy.pool_conflict(pool, pools.get(key)):
            problems.append(
                f"本课程{policy.POOL_LABELS[pools[key]]}中已有同一题干，同一道题不能同时作为练习题和考试题"
            )
        if problems:
            errors.append((n, "；".join(problems)))
        else:
            pools.setdefault(key, pool)
            out.append(
                Question(
                    course_id=course_id,
                    chapter_id=chapter_id,
                    qtype=qtype,
                    pool=pool,
                    stem=stem,
                    options=options,
                    answer=answer,
                    explanation=explanation,
                )
            )
    return out, errors


def _size_of(fileobj) -> int | None:
    size = getattr(fileobj, "size", None)
    if size is None and hasattr(fileobj, "seek"):
        here = fileobj.tell()
        size = fileobj.seek(0, 2)
        fileobj.seek(here)
    return size


def _unpacked_bytes(fileobj) -> int | None:
    """The uncompressed size of every part of the .xlsx (a zip), from its directory; None when
    it is not a zip. zipfile never inflates a part beyond the size its directory states."""
    import zipfile

    try:
        with zipfile.ZipFile(fileobj) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        fileobj.seek(0)


def read_rows(fileobj) -> tuple[list, str]:
    """The first sheet's rows, only the template's columns (max_col), at most
    IMPORT_MAX_ROWS + 1 data rows read; or ([], why) when the file is not a readable .xlsx or
    exceeds a cap of policy.import_limits_problem (its size, its unpacked size, the sheet's
    declared dimension, its rows). Nothing larger than the caps is ever held in memory."""
    from openpyxl import load_workbook

    unreadable = "无法读取文件：请上传由模板填写的 .xlsx 文件"
    problem = policy.import_limits_problem(file_bytes=_size_of(fileobj))
    if problem:
        return [], problem
    unpacked = _unpacked_bytes(fileobj)
    if unpacked is None:
        return [], unreadable
    problem = policy.import_limits_problem(unpacked_bytes=unpacked)
    if problem:
        return [], problem
    try:
        wb = load_workbook(fileobj, read_only=True, data_only=False)
    except Exception:  # openpyxl raises many types for a non-xlsx file
        return [], unreadable
    try:
        if not wb.worksheets:
            return [], unreadable
        ws = wb.worksheets[0]
        problem = policy.import_limits_problem(declared_rows=ws.max_row, declared_columns=ws.max_column)
        if problem:
            return [], problem
        # A sheet without (or with a false) dimension is still read no further than the caps:
        # the header and IMPORT_MAX_ROWS rows, plus one to know there is more. Rows are made
        # lazily, so a far-away row is never padded out to.
        limit = policy.IMPORT_MAX_ROWS + 2
        rows = list(itertools.islice(ws.iter_rows(max_col=len(HEADERS), values_only=True), limit))
    except Exception:  # a damaged part inside a valid zip
        return [], unreadable
    finally:
        wb.close()
    if len(rows) == limit:  # a row (even an empty one) beyond the cap: refuse, never cut silently
        return [], policy.import_limits_problem(data_rows=policy.IMPORT_MAX_ROWS + 1)
    return rows, ""


def import_workbook(fileobj, *, actor=None) -> ImportReport:
    report = ImportReport()
    rows, problem = read_rows(fileobj)
    if problem:
        report.errors.append((0, problem))
        return report
    header = [_text(v) for v in rows[0][: len(HEADERS)]] if rows else []
    while header and not header[-1]:
        header.pop()
    if header not in (HEADERS, LEGACY_HEADERS):
        report.errors.append((1, "表头与模板不一致，请下载模板后填写"))
        return report
    if header == LEGACY_HEADERS:
        rows = [row[: len(LEGACY_HEADERS)] for row in rows]
    courses = dict(Course.objects.values_list("code", "id"))
    chapters = {(c, p): i for i, c, p in Chapter.objects.values_list("id", "course_id", "position")}
    pools = {
        (c, policy.question_key(stem)): pool
        for c, stem, pool in Question.objects.values_list("course_id", "stem", "pool")
    }
    questions, errors = parse_rows(rows[1:], courses, chapters, pools)
    if errors:
        report.errors = errors
        return report
    if not questions:
        report.errors.append((0, "文件中没有试题"))
        return report
    with transaction.atomic():
        Question.objects.bulk_create(questions)
        audit_record("exams.bank_imported", actor=actor, data={"questions": len(questions)})
    report.created = len(questions)
    return report
