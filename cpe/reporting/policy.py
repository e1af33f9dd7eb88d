"""Rules of reporting to the AIS (SPEC §1.9, §9). Pure functions: no ORM, no clock."""
from datetime import datetime, timedelta

from cpe.accounts.states import AisStatus

from .states import CheckResult

# A learner may ask for a re-check this often (django-ratelimit rate string, per user).
RECHECK_RATE = "5/h"
# A page a person waits on (the re-check button, registration in the embedded default) gets
# one retry; background tasks get the adapter's full budget (AIS_MAX_RETRIES).
INTERACTIVE_MAX_RETRIES = 1
# Background re-checks (SPEC §1.9 "平台将稍后重试"; §9.3 a person found later gets their credits
# reported): a failed check is retried by the task with these waits, then by the sweep.
CHECK_TASK_RETRY_COUNTDOWNS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)
RECHECK_FAILED_AFTER = timedelta(hours=1)
RECHECK_NOT_FOUND_AFTER = timedelta(days=7)
RECHECK_UNKNOWN_AFTER = timedelta(minutes=10)


def status_after_check(previous: str, result: str) -> AisStatus:
    """The account's AIS status after a check (SPEC §1.9).

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
    wait = {AisStatus.FAILED: RECHECK_FAILED_AFTER, AisStatus.NOT_FOUND: RECHECK_NOT_FOUND_AFTER,
            AisStatus.UNKNOWN: RECHECK_UNKNOWN_AFTER}.get(AisStatus(status), RECHECK_FAILED_AFTER)
    return checked_at <= at - wait


RECHECK_MESSAGES = {
    CheckResult.FOUND: "核验完成：您已纳入《内蒙古自治区会计人员信息管理系统》，考试合格后的学时将上报该系统。",
    CheckResult.NOT_FOUND: "核验完成：系统中暂未查到您的信息（已按身份证号码和姓名查询）。"
                           "在本平台取得的学时会保留，您纳入该系统后平台将自动上报。",
    CheckResult.FAILED: "暂时无法连接会计人员信息管理系统，本次未能完成核验，平台将稍后自动重试。",
}
