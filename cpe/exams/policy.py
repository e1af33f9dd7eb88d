"""Exam rules (rules R8, agreement §4.4). Pure functions: facts and an explicit `at` in, a value or a
decision with a coded reason out. No ORM, no clock, no settings read at import.

The numbers are defaults (rules R0.3): each one can be overridden
by a setting of the same idea, read by `exams.services.current_rules()`:
EXAM_PASS_MARK, EXAM_TIME_LIMIT_MINUTES, EXAM_MAX_ATTEMPTS, EXAM_PAPER_COMPOSITION,
EXAM_MULTIPLE_PARTIAL_CREDIT."""

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# --- question types ---------------------------------------------------------------------------
SINGLE = "single"  # 单选题
MULTIPLE = "multiple"  # 多选题
JUDGE = "judge"  # 判断题
TYPE_LABELS = {SINGLE: "单选题", MULTIPLE: "多选题", JUDGE: "判断题"}
JUDGE_OPTIONS = ("正确", "错误")

# --- defaults ---------------------------------------------------------------------------------
PASS_MARK = 60  # rules R8.3: pass at 60/100
TIME_LIMIT = timedelta(minutes=60)  # rules R8.2: 60 minutes, enforced by the server
MAX_ATTEMPTS = None  # rules R8.3: unlimited within validity by default
MULTIPLE_PARTIAL_CREDIT = False  # issue 5: multiple choice all-or-nothing
SUBMIT_GRACE = timedelta(seconds=15)  # network latency allowed after the deadline
OPTIONS_MIN, OPTIONS_MAX = 2, 8  # options per choice question

# --- question pools ---------------------------------------------------------------------------
# Practice shows the right answer at once (rules R7.5), so it must never show an exam question's:
# each question is in one pool. Chapter exercises and mock exams draw only from the practice
# pool, exam papers only from the exam pool (rules R8.2 "drawn from the course's question bank").
POOL_PRACTICE = "practice"  # 练习题: chapter exercises and mock exams, answers shown
POOL_EXAM = "exam"  # 考试题: exam papers only, answers never shown to a learner
POOL_LABELS = {POOL_PRACTICE: "练习题", POOL_EXAM: "考试题"}
DEFAULT_POOL = POOL_EXAM  # a question nobody placed is never revealed


@dataclass(frozen=True)
class Part:
    qtype: str
    count: int
    points: int


# rules R8.2: 10 single × 3 + 10 multiple × 4 + 10 true/false × 3 = 100.
PAPER_COMPOSITION = (Part(SINGLE, 10, 3), Part(MULTIPLE, 10, 4), Part(JUDGE, 10, 3))
FULL_MARKS = 100


@dataclass(frozen=True)
class Rules:
    """The exam rules in force (defaults above, or the settings that override them)."""

    pass_mark: int = PASS_MARK
    time_limit: timedelta = TIME_LIMIT
    max_attempts: int | None = MAX_ATTEMPTS
    composition: tuple = PAPER_COMPOSITION
    partial_credit: bool = MULTIPLE_PARTIAL_CREDIT


def composition_total(composition: Iterable[Part]) -> int:
    return sum(p.count * p.points for p in composition)


def composition_valid(composition: Iterable[Part]) -> tuple[bool, str]:
    """A paper's composition must add up to FULL_MARKS with positive counts and points, each
    type once (rules R8.2 "= 100")."""
    seen = set()
    for p in composition:
        if p.qtype not in TYPE_LABELS:
            return False, f"未知题型 {p.qtype}"
        if p.qtype in seen:
            return False, f"题型重复 {p.qtype}"
        if p.count <= 0 or p.points <= 0:
            return False, "题量与分值必须为正数"
        seen.add(p.qtype)
    total = composition_total(composition)
    if total != FULL_MARKS:
        return False, f"试卷总分为 {total}，应为 {FULL_MARKS}"
    return True, ""


# --- eligibility ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""
    message: str = ""
    missing: tuple = ()  # what the learner still has to do, in words


ENROLMENT_MESSAGES = {
    "not_enrolled": "您尚未购买包含本课程的课程，请先选课购买。",
    "expired": "该课程已超过有效期（超期课程），不能考试，请重新购买。",
    "closed": "该课程的开通记录已关闭（已退款），不能考试。",
    "not_started": "该课程尚未到开通时间。",
}


def exam_eligibility(
    *,
    is_staff: bool,
    on_hold: bool,
    enrolment_state: str,
    chapters_total: int,
    chapters_done: int,
    attempts_used: int,
    max_attempts: int | None,
    bank_ok: bool = True,
) -> Decision:
    """【我要考试】 opens when every chapter of the course is complete and the enrolment is valid
    (rules R8.1, agreement §4.4), not under a correction hold (rules R1.8, accounts.policy.hold_allows
    "exam"), and while attempts remain (rules R8.3, unlimited by default). The enrolment state is
    learning.policy.enrolment_state's: valid in [valid_from, valid_until), half-open."""
    if is_staff:
        return Decision(False, "not_learner", "工作人员账号不能参加考试。")
    if on_hold:
        return Decision(False, "on_hold", "您的资料需要更正，更正前暂不能考试。", ("更正个人资料",))
    if enrolment_state != "valid":
        msg = ENROLMENT_MESSAGES.get(enrolment_state, "暂不能参加该课程的考试。")
        return Decision(False, enrolment_state, msg, (msg,))
    left = chapters_total - chapters_done
    if chapters_total <= 0:
        return Decision(False, "no_chapters", "该课程尚无章节，暂不能考试。")
    if left > 0:
        return Decision(
            False,
            "chapters_incomplete",
            f"还有 {left} 个章节未学完，全部章节学完后才能考试。",
            (f"学完其余 {left} 个章节",),
        )
    if max_attempts is not None and attempts_used >= max_attempts:
        return Decision(False, "no_attempts", f"考试次数已用完（共 {max_attempts} 次）。")
    if not bank_ok:
        return Decision(False, "bank_too_small", "该课程题库尚未准备好，请稍后再试或联系客服。")
    return Decision(True)


def attempts_left(used: int, max_attempts: int | None) -> int | None:
    """None means unlimited (rules R8.3)."""
    return None if max_attempts is None else max(0, max_attempts - used)


# --- the paper --------------------------------------------------------------------------------
def bank_sufficient(available: dict[str, int], composition: Iterable[Part]) -> tuple[bool, dict[str, int]]:
    """Whether the bank holds enough active questions of each type; returns the shortfall by
    type (rules R8.2 "drawn from the course's question bank by type")."""
    short = {
        p.qtype: p.count - available.get(p.qtype, 0)
        for p in composition
        if available.get(p.qtype, 0) < p.count
    }
    return not short, short


@dataclass(frozen=True)
class DrawnItem:
    question_id: int
    qtype: str
    points: int
    option_order: tuple  # display position -> original option index


def draw_paper(
    bank: dict[str, list[int]],
    option_counts: dict[int, int],
    composition: Iterable[Part],
    rng: random.Random,
    *,
    allow_short: bool = False,
) -> list[DrawnItem]:
    """Draw a paper at random (rules R8.2): `count` questions of each type without repetition,
    in the composition's order, each question's options shuffled (true/false keeps 正确/错误 in
    place). `bank` maps type -> question ids; `option_counts` maps id -> number of options.
    With allow_short (the mock exam) a small bank gives a shorter paper instead of failing."""
    items = []
    for part in composition:
        ids = sorted(bank.get(part.qtype, []))
        if len(ids) < part.count and not allow_short:
            raise ValueError(f"bank too small for {part.qtype}: {len(ids)} < {part.count}")
        for qid in rng.sample(ids, min(part.count, len(ids))):
            order = list(range(option_counts[qid]))
            if part.qtype != JUDGE:
                rng.shuffle(order)
            items.append(DrawnItem(qid, part.qtype, part.points, tuple(order)))
    return items


def paper_pool() -> str:
    """The pool an exam paper is drawn from (rules R8.2): the exam pool, never practice questions,
    whose answers any learner can read in practice feedback."""
    return POOL_EXAM


def practice_pool() -> str:
    """The pool chapter exercises and mock exams draw from and give feedback on (rules R7.5): the
    practice pool, never exam questions (their answers would score an exam 100)."""
    return POOL_PRACTICE


def question_key(stem: str) -> str:
    """What makes two questions the same question for pool_conflict: the stem, whitespace
    removed (full-width spaces too)."""
    return "".join(stem.split())


def pool_conflict(pool: str, other_pool: str | None) -> bool:
    """A question text is in one pool of its course only: the same question as a practice
    question and an exam question would show the exam question's answer in practice (rules R7.5
    feedback against R8.2-8.3 an exam is the learner's own work). `other_pool` is the pool the
    course already holds that text in (None: nowhere)."""
    return other_pool is not None and other_pool != pool


PRACTICE_EXAM_OPEN_MESSAGE = "您有正在进行的考试，交卷后才能继续练习；考试期间练习不显示答案。"
PRACTICE_NOT_ENROLLED_MESSAGE = "您尚未开通该课程或课程已不在有效期内，暂不能练习。"


def attempt_blocks_practice(*, is_open: bool, deadline: datetime, at: datetime) -> bool:
    """An attempt blocks practice feedback while its answers can still be saved or submitted
    (open, before the deadline plus the grace, half-open): the window in which a revealed answer
    could still be used (rules R8.2, answers_accepted)."""
    return is_open and answers_accepted(deadline, at)


def practice_decision(*, enrolment_state: str, exam_in_progress: bool) -> Decision:
    """Whether the learner may practise a course now (chapter exercises, mock exams; rules R7.5):
    under a valid enrolment of the course (learning.policy.enrolment_state), and never while the
    learner has an exam in progress on any course (attempt_blocks_practice): practice shows
    answers, an exam is the learner's own work (rules R8.2-8.3)."""
    if enrolment_state != "valid":
        return Decision(False, "not_enrolled", PRACTICE_NOT_ENROLLED_MESSAGE)
    if exam_in_progress:
        return Decision(False, "exam_in_progress", PRACTICE_EXAM_OPEN_MESSAGE)
    return Decision(True)


def practice_feedback_decision(
    *, question_pool: str | None, enrolment_state: str, exam_in_progress: bool
) -> Decision:
    """Whether a question's right answer, verdict and explanation may be shown (rules R7.5
    immediate feedback). Only a practice-pool question ever gets feedback: an exam question and
    an id that does not exist (question_pool=None) get the same "not_found", so the refusal
    tells nothing about the exam pool. Then practice_decision (valid enrolment, no exam in
    progress): a refusal reveals nothing."""
    if question_pool != POOL_PRACTICE:
        return Decision(False, "not_found", "题目不存在。")
    return practice_decision(enrolment_state=enrolment_state, exam_in_progress=exam_in_progress)


# --- grading ----------------------------------------------------------------------------------
def normalise_answer(qtype: str, chosen: Iterable[int | str], n_options: int) -> tuple[int, ...]:
    """The chosen original option indexes, sorted and de-duplicated, those out of range dropped;
    a single-choice or true/false answer keeps at most one."""
    out = sorted({int(c) for c in chosen if 0 <= int(c) < n_options})
    if qtype != MULTIPLE and len(out) > 1:
        return ()
    return tuple(out)


def score_item(
    qtype: str, correct: Iterable[int], given: Iterable[int], points: int, *, partial_credit: bool = False
) -> int:
    """Points earned by one answer. Single choice and true/false: the one right option. Multiple
    choice: all-or-nothing (exactly the right set) unless partial credit is configured, in which
    case a non-empty subset of the right options with no wrong one earns half the points,
    rounded down (the common 少选得一半、错选不得分 rule)."""
    correct, given = frozenset(correct), frozenset(given)
    if not given:
        return 0
    if given == correct:
        return points
    if qtype == MULTIPLE and partial_credit and given < correct:
        return points // 2
    return 0


def passed(score: int, pass_mark: int = PASS_MARK) -> bool:
    """Pass at `pass_mark` or more out of 100 (rules R8.3: 60/100)."""
    return score >= pass_mark


# --- time -------------------------------------------------------------------------------------
def attempt_deadline(started_at: datetime, time_limit: timedelta = TIME_LIMIT) -> datetime:
    return started_at + time_limit


def answers_accepted(deadline: datetime, at: datetime) -> bool:
    """Answers are saved until the deadline plus a short grace for the network (rules R8.2: the
    time limit is enforced by the server). After it, what was saved before is what is graded."""
    return at < deadline + SUBMIT_GRACE


def attempt_overdue(deadline: datetime, at: datetime) -> bool:
    """An open attempt past its deadline (and the grace) is graded with what was saved."""
    return not answers_accepted(deadline, at)


def seconds_left(deadline: datetime, at: datetime) -> int:
    return max(0, int((deadline - at).total_seconds()))


# --- question-bank import (staff upload) --------------------------------------------------------
# An .xlsx is a zip of XML: a few KB can declare a sheet of 16 384 columns × 1 048 576 rows (which
# a reader pads every row to) or unpack to gigabytes. The import checks all of these first.
IMPORT_MAX_FILE_BYTES = 5 * 1024 * 1024  # the upload itself
IMPORT_MAX_UNPACKED_BYTES = 50 * 1024 * 1024  # all parts of the zip together, uncompressed
IMPORT_MAX_ROWS = 5000  # question rows (the header row not counted)
IMPORT_MAX_COLUMNS = 26  # declared sheet width (A-Z; the template has 13)


def import_limits_problem(
    *,
    file_bytes: int | None = None,
    unpacked_bytes: int | None = None,
    declared_rows: int | None = None,
    declared_columns: int | None = None,
    data_rows: int | None = None,
) -> str:
    """Why an uploaded question bank is too big to read, in Chinese, or "" when it is within
    every cap. `declared_*` are the sheet's own dimension (header row included), `data_rows`
    the question rows actually found. Source: attacker review (a 6 KB file took 38 MiB)."""
    mib = 1024 * 1024
    if file_bytes is not None and file_bytes > IMPORT_MAX_FILE_BYTES:
        return f"文件过大：题库文件不能超过 {IMPORT_MAX_FILE_BYTES // mib} MB，请拆分后分批导入"
    if unpacked_bytes is not None and unpacked_bytes > IMPORT_MAX_UNPACKED_BYTES:
        return f"文件内容过大：解压后超过 {IMPORT_MAX_UNPACKED_BYTES // mib} MB，请按模板重新填写"
    if declared_columns is not None and declared_columns > IMPORT_MAX_COLUMNS:
        return (
            f"工作表声明了 {declared_columns} 列，超过上限 {IMPORT_MAX_COLUMNS} 列："
            "请只保留模板中的列后重新上传"
        )
    if declared_rows is not None and declared_rows - 1 > IMPORT_MAX_ROWS:
        return (
            f"工作表声明了 {declared_rows} 行（含设置过格式的空行），超过上限 {IMPORT_MAX_ROWS + 1} 行："
            "请删除多余的行，或把试题复制到新下载的模板中"
        )
    if data_rows is not None and data_rows > IMPORT_MAX_ROWS:
        return f"试题行数超过上限：一次最多导入 {IMPORT_MAX_ROWS} 道试题，请拆分后分批导入"
    return ""
