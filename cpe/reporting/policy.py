"""Rules of reporting to the AIS (rules R1.9, R9). Pure functions: no ORM, no clock."""

from datetime import datetime, timedelta
from uuid import UUID

from cpe.accounts.states import AisStatus
from cpe.core import ais_labels as labels

from .states import CheckResult

# A learner may ask for a re-check this often (django-ratelimit rate string, per user).
RECHECK_RATE = "5/h"
# A page a person waits on (the re-check button, registration in the embedded default) gets
# one retry; background tasks get the adapter's full budget (AIS_MAX_RETRIES).
INTERACTIVE_MAX_RETRIES = 1
# Background re-checks (rules R1.9 "平台将稍后重试"; R9.3 a person found later gets their credits
# reported): a failed check is retried by the task with these waits, then by the sweep.
CHECK_TASK_RETRY_COUNTDOWNS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)
RECHECK_FAILED_AFTER = timedelta(hours=1)
RECHECK_NOT_FOUND_AFTER = timedelta(days=7)
RECHECK_UNKNOWN_AFTER = timedelta(minutes=10)


def status_after_check(previous: str, result: str) -> AisStatus:
    """The account's AIS status after a check (rules R1.9).

    found / not_found are the AIS's answer and replace whatever was there. A failed check
    (the AIS unreachable or refusing us after the retries) says nothing about the person: it
    keeps a previous definitive answer (so a person already found keeps their credits flowing
    while the AIS is down) and only turns 未核验 into 核验失败."""
    if result == CheckResult.FOUND:
        return AisStatus.FOUND
    if result == CheckResult.NOT_FOUND:
        return AisStatus.NOT_FOUND
    if previous in (AisStatus.FOUND, AisStatus.NOT_FOUND):
        return AisStatus(previous)
    return AisStatus.FAILED


def check_retry_countdown(retries_so_far: int) -> int:
    """Seconds before the task's next try of a failed check."""
    steps = CHECK_TASK_RETRY_COUNTDOWNS
    return steps[min(retries_so_far, len(steps) - 1)]


def recheck_due(status: str, checked_at: datetime | None, at: datetime) -> bool:
    """Whether the background sweep should check an account again."""
    if status == AisStatus.FOUND:
        return False
    if checked_at is None:
        return True
    wait = {
        AisStatus.FAILED: RECHECK_FAILED_AFTER,
        AisStatus.NOT_FOUND: RECHECK_NOT_FOUND_AFTER,
        AisStatus.UNKNOWN: RECHECK_UNKNOWN_AFTER,
    }.get(AisStatus(status), RECHECK_FAILED_AFTER)
    return checked_at <= at - wait


RECHECK_MESSAGES = {
    CheckResult.FOUND: "核验完成：" + labels.PERSON_EXPLANATIONS["found"],
    CheckResult.NOT_FOUND: "核验完成：系统中暂未查到您的信息（已按身份证号码和姓名查询）。"
    + labels.PERSON_EXPLANATIONS["not_found"],
    CheckResult.FAILED: "本次未能完成核验：" + labels.PERSON_EXPLANATIONS["failed"],
}


# --- the credit outbox (rules R9.1, R9.3) --------------------------------------------------------
# A send claims the row for this long; a worker killed mid-send leaves it `sending`, and the
# sweep takes it back after the lease (longer than one call can last: AIS_MAX_RETRIES + 1
# attempts × the read timeout + the backoffs).
SEND_LEASE = timedelta(minutes=10)
# A pending row whose on-commit task never ran (broker down, process killed) is swept after this.
PENDING_GRACE = timedelta(minutes=2)
# Waits between the task's sends of a report the AIS could not take (after the adapter's own
# in-call retries); a Retry-After longer than the step wins.
REPORT_RETRY_COUNTDOWNS = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
# After this many sends without an answer the row is failed (上报失败) for staff to look at.
REPORT_MAX_ATTEMPTS = 20
# HTTP answers after which the AIS certainly did not record the credit (a final 4xx other than
# 409): a revoked record's report can then be cancelled instead of reversed.
NOT_RECORDED_STATUSES = frozenset({400, 401, 404})
REVERSAL_REASON_DEFAULT = "退款撤销学时"
SWEEP_LIMIT = 500


def credit_idempotency_key(record_uid: UUID) -> str:
    """One report per credit record, keyed on its stable uid (never on the database id)."""
    return f"cpe-credit-{record_uid}"


def reversal_idempotency_key(record_uid: UUID) -> str:
    return f"cpe-reversal-{record_uid}"


def report_retry_countdown(attempts_so_far: int, retry_after: float | None = None) -> int:
    """Seconds before the next send of a report that met an AIS outage."""
    steps = REPORT_RETRY_COUNTDOWNS
    wait = steps[min(max(attempts_so_far, 1) - 1, len(steps) - 1)]
    return int(max(wait, retry_after or 0))


def report_gives_up(attempts: int) -> bool:
    return attempts >= REPORT_MAX_ATTEMPTS


def report_cancellable(state: str, attempts: int, last_status: int | None) -> bool:
    """A credit report whose record was revoked can be dropped instead of reversed only when
    the AIS cannot have recorded it: never sent, or finally refused with a 'not recorded'
    answer. Anything sent or in flight is reported and then reversed."""
    from .states import ReportState

    if state in (ReportState.WAITING_PERSON, ReportState.PENDING) and attempts == 0:
        return True
    return state == ReportState.FAILED and last_status in NOT_RECORDED_STATUSES


LEARNER_PENDING = labels.REPORT_PENDING
LEARNER_WAITING_PERSON = labels.REPORT_WAITING_PERSON
LEARNER_SENT = labels.REPORT_SENT
LEARNER_FAILED = labels.REPORT_FAILED
LEARNER_REVERSED = labels.REPORT_REVERSED


def learner_report_label(credit_state: str, reversal_state: str | None = None) -> str:
    """What the learner sees for a course (rules R9.1): 待上报 / 已上报 / 上报失败 (and 已撤回
    once a refund's reversal reached the AIS); 待上报（未纳入） while the person is not in the
    AIS, so "待上报" never suggests that a report is on its way when none can be. Words from
    core.ais_labels, the one AIS vocabulary."""
    from .states import ReportState

    if reversal_state == ReportState.SENT:
        return LEARNER_REVERSED
    if credit_state == ReportState.SENT:
        return LEARNER_SENT
    if credit_state == ReportState.FAILED:
        return LEARNER_FAILED
    if credit_state == ReportState.CANCELLED:
        return ""
    if credit_state == ReportState.WAITING_PERSON:
        return LEARNER_WAITING_PERSON
    return LEARNER_PENDING


# --- exports (rules R9.2) -----------------------------------------------------------------------
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000
EXPORT_PROGRESS_EVERY = 5000
# A finished export file (full ID numbers and mobiles) is kept this long, then deleted by the
# scheduled clean-up (tasks.exports_expire_task) and its job marked expired.
EXPORT_RETENTION = timedelta(days=7)


def export_expires_at(finished_at: datetime) -> datetime:
    """When a finished export's file stops being downloadable and is deleted: finished_at +
    EXPORT_RETENTION. Source: 个人信息保护法 Art. 19 (kept no longer than the purpose needs:
    the file exists to be handed to the authority, rules R9.2); attacker review."""
    return finished_at + EXPORT_RETENTION


def export_downloadable(*, done: bool, expires_at: datetime | None, at: datetime) -> bool:
    """A job's file can be downloaded iff the job is done and `at` is in [finished, expires_at)
    (half-open: at the expiry instant it is gone). A job without an expiry (made before expiry
    existed) is not downloadable: its file is in the old, public location. Source: as above."""
    return done and expires_at is not None and at < expires_at


def excel_safe(value: str) -> str:
    """A cell text that a spreadsheet will not run as a formula (CSV/formula injection): a
    leading =, +, -, @ (and tab/CR) gets a ' prefix."""
    if value and value[0] in FORMULA_PREFIXES:
        return "'" + value
    return value
