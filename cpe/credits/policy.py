"""Credit and certificate rules (rules R8.3-8.4, R10; agreement §4.4). Pure functions.

The year's requirement lives in per-year rows that staff edit (catalog.TrainingYear:
required_hours, credits_per_hour, professional_min_hours); the functions here take them as
plain numbers."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from cpe.core.datefmt import local_date
from cpe.core.masking import mask_name

ACTIVE = "active"
REVOKED = "revoked"
PROFESSIONAL = "professional"
PUBLIC = "public"

# Verification numbers: 16 characters of Crockford base32 (80 random bits) after a prefix
# naming the kind and the year, e.g. ZS<year>-7K3M-Q9XD-2HTB-W4NF. Unguessable: 2^80.
VERIFICATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VERIFICATION_RANDOM_BYTES = 10
KIND_PREFIX = {"course": "HG", "year": "ZS"}  # 合格证明 / 学时证明
_NUMBER = re.compile(r"^(HG|ZS)\d{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")

PUBLIC_QUERY_RATE = "20/h"  # per IP; rules R10 "captcha and rate limit"
PUBLIC_QUERY_RATE_BURST = "5/m"  # per IP
VERIFY_RATE = "120/h"  # per IP, the verification page (numbers are unguessable)
CAPTCHA_MAX_USES = 1  # a captcha answers one query
# 核对姓名 on the verification page: a checker types the full name printed on the certificate
# and is told whether it matches. Each answer is one guess at a name, so guesses are counted per
# address and per certificate (a spread-out guesser still meets the second).
NAME_CHECK_RATE_PER_IP = "10/h"
NAME_CHECK_RATE_PER_CERTIFICATE = "20/d"
NAME_CHECK_MAX_CHARS = 30


def credits_for(hours: int, credits_per_hour: int) -> int:
    """Credits of a course's hours under the year's conversion (TrainingYear.credits_per_hour)."""
    return hours * credits_per_hour


def record_on_pass(*, passed: bool, has_active_record: bool) -> bool:
    """A pass records the course's credit hours for the training year (记载学时), once per course
    per year however often it is passed (rules R7.6, R8.3; agreement §4.4). A revoked record (refund)
    does not count: passing again under a new purchase records again."""
    return passed and not has_active_record


@dataclass(frozen=True)
class YearStatus:
    required_hours: int
    professional_min_hours: int
    total_hours: int
    professional_hours: int
    public_hours: int
    credits: int
    complete: bool
    missing_hours: int  # still needed in all
    missing_professional: int  # of which professional
    percent: int  # 0-100, of the total requirement

    @property
    def planner_line(self) -> str:
        return planner_line(self)


def year_status(
    *,
    required_hours: int,
    professional_min_hours: int,
    credits_per_hour: int,
    professional_hours: int,
    public_hours: int,
) -> YearStatus:
    """Annual completion (rules R8.4; 财会〔2018〕10号《会计专业技术人员继续教育规定》第十五条:
    at least 90 credits a year, professional subjects at least two thirds). The year is complete
    when the recorded hours reach its required hours AND the professional hours reach its
    professional minimum. Public hours beyond what the total needs never replace professional
    hours: what is still missing in all is at least what is missing of professional."""
    total = professional_hours + public_hours
    missing_prof = max(0, professional_min_hours - professional_hours)
    missing = max(required_hours - total, missing_prof, 0)
    complete = missing == 0
    percent = 100 if required_hours <= 0 else min(100, (100 * (required_hours - missing)) // required_hours)
    return YearStatus(
        required_hours,
        professional_min_hours,
        total,
        professional_hours,
        public_hours,
        credits_for(total, credits_per_hour),
        complete,
        missing,
        missing_prof,
        percent,
    )


def planner_line(s: YearStatus) -> str:
    """ "还需 12 学时，其中专业科目 8 学时" (or that the year is complete)."""
    if s.complete:
        return f"本年度学时已达标（{s.total_hours}/{s.required_hours} 学时），可下载学时证明。"
    if s.missing_professional:
        return f"还需 {s.missing_hours} 学时，其中专业科目 {s.missing_professional} 学时"
    return f"还需 {s.missing_hours} 学时（专业科目已达标）"


def course_certificate_allowed(record_status: str) -> bool:
    """A pass certificate for each passed course whose credit record is active (rules R8.4)."""
    return record_status == ACTIVE


def year_certificate_allowed(status: YearStatus) -> bool:
    """A completion certificate (学时证明) once the year is complete (rules R8.4)."""
    return status.complete


def verification_number(kind: str, year: int, random_bytes: bytes) -> str:
    """ZS<year>-XXXX-XXXX-XXXX-XXXX from 10 random bytes the caller draws (secrets.token_bytes)."""
    if len(random_bytes) != VERIFICATION_RANDOM_BYTES:
        raise ValueError("need 10 random bytes")
    n = int.from_bytes(random_bytes, "big")
    chars = []
    for _ in range(16):
        n, r = divmod(n, 32)
        chars.append(VERIFICATION_ALPHABET[r])
    body = "".join(reversed(chars))
    return f"{KIND_PREFIX[kind]}{year:04d}-" + "-".join(body[i : i + 4] for i in range(0, 16, 4))


def normalise_number(raw: str) -> str:
    """What a person types: case, spaces and Crockford look-alikes (O→0, I/L→1) forgiven."""
    s = (raw or "").strip().upper().replace(" ", "")
    head, _, tail = s.partition("-")
    tail = tail.replace("O", "0").replace("I", "1").replace("L", "1")
    return f"{head}-{tail}" if tail else head


def is_verification_number(value: str) -> bool:
    return bool(_NUMBER.match(value or ""))


# --- public query (rules R10) ------------------------------------------------------------------
def public_query_visible(*, found: bool, name_matches: bool, account_status: str) -> bool:
    """A person is shown only when the ID number AND the name match an account that is active:
    locked (closed) and terminated accounts are never found (rules R10, R11.3). The caller gives
    one answer for every refusal, so a mismatch cannot be told from an unknown person."""
    return found and name_matches and account_status == "active"


def normalise_person_name(raw: str) -> str:
    """A name as typed for comparison: blanks removed, the middle-dot variants of minority and
    foreign names (·・•‧.) read as one."""
    s = "".join((raw or "").split())
    for dot in "・•‧．.":
        s = s.replace(dot, "·")
    return s[:NAME_CHECK_MAX_CHARS]


def name_check_answer(*, certificate_found: bool, holder_closed: bool, holder_name: str, typed: str) -> str:
    """核对姓名 on the verification page (the page must expose an edited PDF, and a masked
    name alone cannot tell 张三 from 张四; decision 0013). "match" only when a
    valid-or-revoked certificate with that number exists, its holder has not closed the
    account (then only the masked name is kept) and the typed name equals the name it was
    issued to; every other case is "no_match", so an unknown number and a wrong name read
    alike. The view compares in constant time."""
    import hmac

    if not certificate_found or holder_closed:
        return "no_match"
    a, b = normalise_person_name(typed).encode(), normalise_person_name(holder_name).encode()
    return "match" if a and hmac.compare_digest(a, b) else "no_match"


def id_last_four(id_number: str) -> str:
    """The last four characters of an ID number (the verification page shows them beside the
    masked name; the PDF prints them in 150102********123X)."""
    return id_number[-4:] if id_number and len(id_number) >= 10 else ""


def holder_after_closing(holder_name: str) -> str:
    """The name a certificate keeps when its holder closes a paid account (lock and archive,
    rules R11.3): the masked name (张*, 欧阳**) that the public verification page showed before,
    never the full name. An employer holding the printed certificate still sees the name match,
    so a genuine certificate does not look forged, and the live row holds nothing more than what
    anyone with the number could already read. The full name is only in the sealed archive.
    Idempotent: masking a masked name gives it back."""
    return mask_name(holder_name)


# --- what a certificate states (decision 0013) ---------------------------------------------------
# A certificate of this platform states what this platform knows: the hours recorded here and
# whether the regional 《内蒙古自治区会计人员信息管理系统》 (the AIS, which keeps the credit bank
# the authority counts) acknowledged them. It never claims that the person "completed the year's
# continuing-education task": that is the AIS's record, not ours, and for a person not in the AIS
# nothing here reaches it.
AIS_NAME = "《内蒙古自治区会计人员信息管理系统》"
PERSON_NOT_FOUND = "not_found"  # accounts.states.AisStatus values (kept as plain strings)
PERSON_FOUND = "found"


@dataclass(frozen=True)
class ReportFacts:
    """What the AIS acknowledged of the hours a certificate states, as of one day."""

    hours: int  # the hours the certificate states
    reported_hours: int  # of which the AIS gave a receipt (report sent, not reversed)
    last_reported_on: date | None  # Asia/Shanghai day of the latest receipt among them
    person_status: str  # the holder's AIS status (accounts.states.AisStatus value)


def cn_date(d: date | datetime) -> str:
    """A day as every page writes it (config/formats: 2026-12-03)."""
    return local_date(d)


def certificate_report_line(facts: ReportFacts, *, as_of: date | datetime) -> str:
    """The certificate's sentence about the AIS, true on `as_of` (the Shanghai day it is
    rendered or shown). Cases: everything acknowledged (with the day of the last receipt); part
    acknowledged; nothing acknowledged because the holder is not in the AIS (未纳入); nothing
    acknowledged yet (待上报). Source: a person not in the AIS keeps the credits earned here but
    they cannot be reported, and the learner is told so plainly (decision 0004, decision 0013)."""
    day = cn_date(as_of)
    reported = max(0, min(facts.reported_hours, facts.hours))
    rest = facts.hours - reported
    if facts.hours > 0 and rest == 0:
        return (
            f"截至{day}，上述 {facts.hours} 学时已全部上报{AIS_NAME}"
            f"（最近一次上报于{cn_date(facts.last_reported_on)}）。"
            if facts.last_reported_on
            else f"截至{day}，上述 {facts.hours} 学时已全部上报{AIS_NAME}。"
        )
    if reported:
        when = f"（最近一次上报于{cn_date(facts.last_reported_on)}）" if facts.last_reported_on else ""
        return f"截至{day}，其中 {reported} 学时已上报{AIS_NAME}{when}，其余 {rest} 学时尚未上报。"
    if facts.person_status == PERSON_NOT_FOUND:
        return (
            f"截至{day}，持证人尚未纳入{AIS_NAME}，上述学时均未上报该系统，"
            f"未记入会计人员继续教育档案；纳入后本平台将自动上报。"
        )
    return f"截至{day}，上述学时尚未上报{AIS_NAME}（待上报）。"


def year_certificate_lead(
    *,
    year: int,
    hours: int,
    credits: int,
    professional_hours: int,
    public_hours: int,
    required_hours: int,
    professional_min_hours: int,
) -> str:
    """The year certificate's statement after the holder's name: the hours recorded on this
    platform against the year's requirement as configured here. Never "已完成本年度继续教育
    任务" (whether the task is done is the AIS's record; see certificate_report_line)."""
    return (
        f"在本平台参加 {year} 年度会计人员继续教育，"
        f"经考试合格记载学时共 {hours} 学时（折合 {credits} 学分），"
        f"其中专业科目 {professional_hours} 学时、公需科目 {public_hours} 学时，"
        f"达到本平台 {year} 年度学时要求（应修 {required_hours} 学时，"
        f"专业科目不少于 {professional_min_hours} 学时）。"
    )


# --- until when study counts for which year (财会〔2018〕10号; decision 0013) ------------------------
def study_year_note(*, course_year: int, valid_until: date, today: date) -> str:
    """Which training year the hours of a course count for, and until when: always the
    course's own year (credits.services records a pass for `course.year`), whatever the date of
    the pass, and never for another year: hours do not carry over (training years are calendar
    years without carry-over: 财会〔2018〕10号 第十五条, decision 0013).
    An enrolment bought late in the year stays valid into the next (payment + the product's
    validity days: learning.policy.validity_window); a pass before its end still counts for
    the course's year, and the next year's hours must come from that year's courses.
    `valid_until` and `today` are Asia/Shanghai dates (`valid_until`: the last day of
    validity, or the day it would end if bought today)."""
    end = local_date(valid_until)
    if valid_until.year > course_year:
        return (
            f"学时记入 {course_year} 年度：有效期至 {end}，在此之前考试合格的学时仍记入 {course_year} 年度，"
            f"不计入 {valid_until.year} 年度"
            f"（学时不跨年度结转；{valid_until.year} 年度的学时须学习该年度课程取得）。"
        )
    if today.year > course_year:
        return (
            f"这是往年（{course_year} 年度）的课程：学时记入 {course_year} 年度，不计入 {today.year} 年度。"
            f"有效期至 {end}。"
        )
    return f"学时记入 {course_year} 年度（学时不跨年度结转）。请在有效期（至 {end}）内完成学习和考试。"


# --- the year planner (财会〔2018〕10号 第十五条; decision 0013) ---------------------------------------
@dataclass(frozen=True)
class PlanCourse:
    course_id: int
    title: str
    category: str  # PROFESSIONAL / PUBLIC
    hours: int
    open_to_learner: bool  # in an enrolment valid now (else it must be bought)


@dataclass(frozen=True)
class YearPlan:
    courses: tuple  # PlanCourse picks, in the order to take them
    shortfall_hours: int  # what even every remaining course of the year cannot fill
    shortfall_professional: int

    @property
    def to_buy(self) -> bool:
        """Some course of the plan must be bought first."""
        return any(not c.open_to_learner for c in self.courses)


def year_plan(status: YearStatus, candidates: Iterable[PlanCourse]) -> YearPlan:
    """Which of the year's courses not yet passed fill what is still missing: first the
    professional hours still missing (professional courses only: public hours never replace
    them), then the rest of the total (any category). Courses the learner can already study
    come before those to buy, otherwise the catalogue's order. Pure; `candidates` in catalogue
    order, without the courses already passed."""
    if status.complete:
        return YearPlan((), 0, 0)
    ordered = sorted(candidates, key=lambda c: not c.open_to_learner)  # stable: catalogue order kept
    picks: list[PlanCourse] = []
    chosen: set[int] = set()
    need_prof = status.missing_professional
    for c in ordered:
        if need_prof <= 0:
            break
        if c.category == PROFESSIONAL:
            picks.append(c)
            chosen.add(c.course_id)
            need_prof -= c.hours
    got = sum(c.hours for c in picks)
    need = status.missing_hours - got
    for c in ordered:
        if need <= 0:
            break
        if c.course_id not in chosen:
            picks.append(c)
            chosen.add(c.course_id)
            need -= c.hours
    return YearPlan(tuple(picks), max(0, need), max(0, need_prof))
