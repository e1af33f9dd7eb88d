"""Account rules (rules R1). Pure functions: facts and an explicit time in, a decision out."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import phonenumbers

from cpe.core.timewin import local_date

from .states import AccountStatus, TerminationReason

# --- ID numbers: GB 11643-1999 (ISO 7064 MOD 11-2) — rules R1.2 ----------------------------
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# Province-level prefixes, including 71 (Taiwan) and the residence-permit prefixes
# 81/82/83 (Hong Kong / Macao / Taiwan residents, GB 11643 applied by 国办发〔2018〕81号).
# Only the province is checked: a county code that has since been retired stays valid,
# because ID numbers are never renumbered (rules R1.2).
ID_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
ID_EARLIEST_BIRTH = date(1900, 1, 1)
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d also matches other scripts' digits


@dataclass(frozen=True)
class IdCheck:
    ok: bool
    code: str = ""
    message: str = ""
    value: str = ""
    birth_date: date | None = None


def id_check_char(first17: str) -> str:
    return ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalise_id_number(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "").upper()


def check_id_number(raw: str, *, today: date) -> IdCheck:
    """rules R1.2: 18 characters, a real birth date not after today, the MOD 11-2 check
    character (`x` accepted as `X`)."""
    value = normalise_id_number(raw)
    if not value:
        return IdCheck(False, "id_required", "请填写身份证号码。")
    if not _ID_SHAPE.match(value):
        return IdCheck(False, "id_shape", "身份证号码应为 18 位：17 位数字加 1 位数字或 X。")
    if value[:2] not in ID_PROVINCES:
        return IdCheck(False, "id_area", "身份证号码前两位不是有效的省级行政区划代码。")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return IdCheck(False, "id_birth", "身份证号码中的出生日期不存在。")
    if birth < ID_EARLIEST_BIRTH or birth > today:
        return IdCheck(False, "id_birth", "身份证号码中的出生日期不合理。")
    if id_check_char(value[:17]) != value[17]:
        return IdCheck(False, "id_checksum", "身份证号码校验位不正确，请核对后重新输入。")
    return IdCheck(True, value=value, birth_date=birth)


# --- Capacity: 民法典 Art. 17-18 — rules R1.3 -----------------------------------------------
ADULT_AGE = 18
SELF_SUPPORTING_MIN_AGE = 16


def age_on(birth: date, day: date) -> int:
    """Completed years (周岁) on a calendar day. A 29 February birthday is reached on
    1 March in common years."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


@dataclass(frozen=True)
class CapacityDecision:
    allowed: bool
    needs_declaration: bool = False
    code: str = ""
    message: str = ""


def registration_capacity(birth: date, at: datetime, *, self_supporting: bool) -> CapacityDecision:
    """Full civil capacity on the registration day in Asia/Shanghai: age ≥ 18, or 16-17 and
    declaring that their own labour income is their main support (民法典 Art. 18 ¶2), in
    which case the account is flagged for staff review. Under 16: refused."""
    age = age_on(birth, local_date(at))
    if age >= ADULT_AGE:
        return CapacityDecision(True)
    if age >= SELF_SUPPORTING_MIN_AGE:
        if self_supporting:
            return CapacityDecision(True, needs_declaration=True, code="self_supporting")
        return CapacityDecision(
            False,
            True,
            "minor_needs_declaration",
            "您未满 18 周岁。依据《民法典》第十八条，16 周岁以上、以自己的劳动收入为主要生活来源的"
            "未成年人视为完全民事行为能力人；如符合，请勾选相应声明，账号将由工作人员审核。",
        )
    return CapacityDecision(
        False,
        False,
        "under_16",
        "您未满 16 周岁，不具备完全民事行为能力，依据用户协议第一条第 1 款不能注册。",
    )


# --- Mobile numbers — rules R1.4 ------------------------------------------------------------
def check_mobile(raw: str) -> tuple[str | None, str]:
    """A mainland mobile number (11 digits). Returns (normalised, "") or (None, message).
    phonenumbers calls a Beijing landline "valid": the MOBILE type is required."""
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    if not re.fullmatch(r"1\d{10}", digits):
        return None, "请填写 11 位中国大陆手机号码。"
    try:
        parsed = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None, "手机号码格式不正确。"
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ) or not phonenumbers.is_valid_number(parsed):
        return None, "该号码不是有效的手机号码。"
    return digits, ""


# --- Verification codes and their throttles — rules R1.4, R1.6 ------------------------------
CODE_LENGTH = 6
CODE_TTL = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_INTERVAL = timedelta(seconds=60)
CODE_MAX_PER_TARGET_PER_DAY = 10
# Per-IP throttles (django-ratelimit rate strings, shared cache).
SMS_RATE_PER_IP = "20/h"
REGISTER_RATE_PER_IP = "10/h"
LOGIN_RATE_PER_IP = "60/m"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""
    message: str = ""


def code_send_decision(recent_sends: list[datetime], at: datetime) -> Decision:
    """One code per target per 60 s, at most 10 per target per 24 h (anti SMS-bombing)."""
    day_ago = at - timedelta(days=1)
    last_day = [t for t in recent_sends if day_ago < t <= at]
    if last_day and at - max(last_day) < CODE_RESEND_INTERVAL:
        wait = int((CODE_RESEND_INTERVAL - (at - max(last_day))).total_seconds()) + 1
        return Decision(False, "too_soon", f"验证码已发送，请 {wait} 秒后再试。")
    if len(last_day) >= CODE_MAX_PER_TARGET_PER_DAY:
        return Decision(False, "daily_limit", "该号码今日获取验证码次数已达上限，请明天再试。")
    return Decision(True)


def code_use_decision(*, created_at: datetime, consumed: bool, attempts: int, at: datetime) -> Decision:
    """A code is good once, within 10 minutes, for at most 5 wrong guesses."""
    if consumed:
        return Decision(False, "used", "验证码已使用，请重新获取。")
    if at >= created_at + CODE_TTL:
        return Decision(False, "expired", "验证码已过期，请重新获取。")
    if attempts >= CODE_MAX_ATTEMPTS:
        return Decision(False, "too_many_attempts", "验证码错误次数过多，请重新获取。")
    return Decision(True)


# --- The "needs correction" hold — rules R1.8 ------------------------------------------------
HOLD_BLOCKED_ACTIONS = frozenset({"buy", "study", "exam"})
HOLD_ACTION_LABELS = {"buy": "购买课程", "study": "学习", "exam": "考试"}


def hold_allows(action: str, *, on_hold: bool) -> bool:
    """Under a correction hold the learner can sign in and fix data, but not buy, study or
    take exams until staff lift it (rules R1.8, agreement §1.2(1))."""
    return not (on_hold and action in HOLD_BLOCKED_ACTIONS)


# --- Name ------------------------------------------------------------------------------------
NAME_MAX = 30
_NAME = re.compile(r"^[\u3400-\u9fff\u00b7·A-Za-z\s]{2,30}$")


def check_name(raw: str) -> tuple[str | None, str]:
    """A real name as on the ID card: 2-30 Chinese or Latin letters (with the middle dot
    used in minority and foreign names)."""
    value = unicodedata.normalize("NFKC", raw or "").strip()
    if not value:
        return None, "请填写姓名。"
    if not _NAME.match(value):
        return None, "姓名应与身份证一致，为 2-30 个汉字或字母。"
    return value, ""


# --- Downloading one's personal information — rules R14, 个人信息保护法 Art. 45 ------------------
# The learner may obtain a copy of everything the platform holds about them (PIPL Art. 45 ¶1-2).
# The file carries the full ID number and mobile, so the page asks for the password again, and
# it is throttled per account (every POST counts, right or wrong) so that a signed-in session
# cannot be used to guess the password: 5 per hour, then the 429 page.
PERSONAL_DATA_RATE_PER_USER = "5/h"
PERSONAL_DATA_FILE_PREFIX = "个人信息"
PERSONAL_DATA_ASCII_PREFIX = "personal-data"  # the fallback name for clients without RFC 5987

# What the copy never contains, and why (shown on the download page). Secrets that protect the
# account (PIPL Art. 51: security measures) are not "personal information held about" the learner
# in a form they could use; other people's data is not theirs to receive (PIPL Art. 45 covers
# one's own information only); staff working notes not shown to the learner are excluded.
PERSONAL_DATA_NOT_EXPORTED = (
    "密码（平台只保存不可逆的哈希值，不提供）",
    "登录会话标识、短信/邮件验证码及其哈希值",
    "用于查询的加密索引（盲索引）等安全数据",
    "工作人员的内部备注与系统错误信息",
    "其他人的信息（如审核人员的姓名）",
)
# The model attributes that must never reach the file, whatever a future section adds (checked
# by personal_data.personal_data_build before anything is written).
PERSONAL_DATA_FORBIDDEN_ATTRS = frozenset(
    {
        "password",
        "session_key",
        "session_key_hash",
        "id_number_bidx",
        "mobile_bidx",
        "email_bidx",
        "target_bidx",
        "code_hash",
        "status_note",
        "decided_by",
        "last_error",
        "check_token",
        "key_hex",
        "verify_token",
        "body",
    }
)


def personal_data_filenames(at: datetime) -> tuple[str, str]:
    """(个人信息-YYYY-MM-DD.zip, personal-data-YYYY-MM-DD.zip): the export's file name, dated
    by the Asia/Shanghai day of the export, and its ASCII fallback. No personal data in the name
    (a downloaded file's name shows in browser histories and download bars)."""
    day = local_date(at).isoformat()
    return f"{PERSONAL_DATA_FILE_PREFIX}-{day}.zip", f"{PERSONAL_DATA_ASCII_PREFIX}-{day}.zip"


# --- closing an account (注销账号) — rules R11; agreement §1.4; 电子商务法 Art. 24 & 31; PIPL Art. 47 --
CLOSING_ARCHIVE_YEARS = 3  # rules R11.3; 电子商务法 Art. 31: transaction records kept ≥ 3 years
CLOSING_DONE_WITHIN_WORKING_DAYS = 15  # rules R11.4; 电子商务法 Art. 24 ¶2 (we do it at once)
CLOSING_OUTBOX_SCRUB_AFTER = timedelta(days=7)  # the confirmation's address is wiped once sent, or by then
CLOSED_NAME = "已注销用户"  # placeholder left in live rows that named the person
CLOSING_RATE_PER_USER = "10/h"


class ClosingOutcome:
    DELETE = "delete"  # never paid: everything personal deleted now (rules R11.2)
    ARCHIVE = "archive"  # paid within 3 years: locked, sealed, purged later (rules R11.3)
    ANONYMISE = "anonymise"  # paid, but the last transaction is ≥ 3 years old: nothing left to keep


@dataclass(frozen=True)
class EnrolmentFacts:
    """One enrolment as the closing rule sees it. `courses_recorded`/`courses_total`: for a
    single-course product its one course; for an annual product, whether the year is complete
    (1/1) or not (0/1) — the annual product's task is the year's requirement (rules R4.3)."""

    valid_from: datetime
    valid_until: datetime
    closed: bool
    courses_total: int
    courses_recorded: int


def enrolment_learning_unfinished(e: EnrolmentFacts, at: datetime) -> bool:
    """rules R11.1 "a paid order still within validity whose learning is not finished": the
    enrolment is not closed (refunded), `at` lies in its half-open window [valid_from,
    valid_until) (rules R4.3), and not all its courses have a recorded credit (rules R8.3) — for
    an annual product, the year's required hours are not yet reached. At valid_until it has
    expired (rules R4.4) and no longer holds the closing back."""
    if e.closed or not (e.valid_from <= at < e.valid_until):
        return False
    return e.courses_recorded < e.courses_total


def closing_refusal(
    *, enrolments: list[EnrolmentFacts], refund_in_progress: bool, ais_report_pending: bool, at: datetime
) -> Decision:
    """May the learner close the account now? Refused, with the reason (rules R11.1):
    - an enrolment still valid whose learning is not finished (enrolment_learning_unfinished);
    - a refund requested, being paid, or failed and owed (rules R5: the money is not settled);
    - recorded credits still on their way to the AIS (rules R9.1: closing erases the name and ID
      number the report needs — the learner would lose the hours in their 学分银行)."""
    if any(enrolment_learning_unfinished(e, at) for e in enrolments):
        return Decision(
            False,
            "learning_unfinished",
            "您有已付款且仍在有效期内、尚未完成学习的课程，暂不能注销。"
            "请在完成学习（全部课程学时已记载）或课程到期后再申请注销。",
        )
    if refund_in_progress:
        return Decision(
            False, "refund_in_progress", "您有正在处理中的退款，暂不能注销。请在退款完成后再申请注销。"
        )
    if ais_report_pending:
        return Decision(
            False,
            "ais_report_pending",
            "您有学时正在上报会计人员信息管理系统，暂不能注销。请在上报完成后（通常数分钟内）再申请。",
        )
    return Decision(True)


def add_years(at: datetime, years: int) -> datetime:
    """The same wall-clock moment `years` later; 29 February becomes 28 February."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)


def closing_purge_after(last_transaction_at: datetime) -> datetime:
    """When an archive is purged: 3 years after the last paid transaction (payment or refund),
    rules R11.3; 电子商务法 Art. 31 (transaction information kept ≥ 3 years from completion)."""
    return add_years(last_transaction_at, CLOSING_ARCHIVE_YEARS)


def closing_outcome(*, last_transaction_at: datetime | None, at: datetime) -> str:
    """rules R11.2-11.3: never paid → DELETE; last paid transaction within the previous 3 years
    (at < last + 3 years) → ARCHIVE; older → ANONYMISE (the retention period has already passed,
    so nothing is archived: the live rows keep placeholders, as after a purge)."""
    if last_transaction_at is None:
        return ClosingOutcome.DELETE
    if at < closing_purge_after(last_transaction_at):
        return ClosingOutcome.ARCHIVE
    return ClosingOutcome.ANONYMISE


def archive_purge_due(*, purge_after: datetime, at: datetime) -> bool:
    """An archive is purged from its purge_after on (rules R11.3)."""
    return at >= purge_after


# --- Who holds this ID number or mobile? Neutral answers — 个人信息保护法 Art. 28, 51 -----------
# An ID number is sensitive personal information (PIPL Art. 28): whether a person has an account
# here, and why it was terminated, is theirs. Until an SMS code proves a phone, every answer is
# the same whether the ID number or mobile is free, taken or terminated; after the code, a person
# is told what the platform would anyway tell that phone (see docs/rules.md, "Who may learn who
# holds an ID number"). The wording lives here, once.
CODE_SENT_MESSAGE = "验证码已发送至 {masked}，{minutes} 分钟内有效。"
ID_TAKEN_MESSAGE = (
    "该身份证号码已有账号，不能重复注册。如是您本人的账号，请直接登录，或通过账号绑定的手机号码找回密码；"
    "原手机号码已停用的，请用原密码登录后按提示验证新手机号码，或联系客服（页面底部有客服电话和邮箱）。"
)
MOBILE_TAKEN_MESSAGE = "该手机号码已注册账号，请直接登录；如忘记密码，可通过本手机号码找回密码。"
MOBILE_TERMINATED_MESSAGE = (
    "该手机号码绑定的账号已终止服务（原因：{reason}），不能用于注册。"
    "如有疑问，请联系客服（页面底部有客服电话和邮箱）。"
)
MOBILE_RESTORABLE_MESSAGE = (
    "该手机号码绑定的账号因联系方式失效已终止服务，可以恢复：请用原密码登录，按提示验证手机号码后即恢复服务。"
    "忘记密码的，请联系客服（页面底部有客服电话和邮箱）。"
)
PASSWORD_RESET_SENT_MESSAGE = "若该账号存在，验证码已发送至其绑定的手机号码，{minutes} 分钟内有效。"
# Registration and password reset: every code failure (none requested, wrong, used, expired, too
# many guesses) gets this one answer; "used" or "expired" would tell that someone registered with,
# or asked a code for, a number.
CODE_REFUSED_MESSAGE = "验证码不正确或已失效，请重新获取。"


@dataclass(frozen=True)
class HolderFacts:
    """The account that already holds an ID number or a mobile, as the registration rule sees it."""

    status: str
    status_reason: str
    status_reason_label: str = ""


def code_sent_message(masked: str) -> str:
    """What "获取验证码" answers for any well-formed mobile, registered or not (PIPL Art. 28)."""
    return CODE_SENT_MESSAGE.format(masked=masked, minutes=int(CODE_TTL.total_seconds() // 60))


def registration_refusal(
    *, phone_holder: HolderFacts | None, id_holder: HolderFacts | None, same_account: bool
) -> Decision:
    """Whether a registration whose SMS code has just proved the phone may go ahead, and what to
    tell the person (rules R1.2 one account per ID number, R12; PIPL Art. 28).

    Asked only after the code proves the phone. The person holds that phone, so they may learn
    what the platform would send to it anyway: that it has an account, whether that account was
    terminated and why (the termination SMS said so). They have not proved the ID number's
    account: an ID number held by another account gets one answer whatever that account's state
    (active, terminated for any reason), never its reason or its phone. A person terminated for a
    violation stays refused (`reregistration_refusal`, when the ID number and the
    phone are one account's); a termination for unreachable contact details can be undone by the
    person (`account_restorable`)."""
    if phone_holder is not None:
        if phone_holder.status == AccountStatus.TERMINATED:
            if account_restorable(status=phone_holder.status, status_reason=phone_holder.status_reason):
                return Decision(False, "mobile_restorable", MOBILE_RESTORABLE_MESSAGE)
            if same_account:
                barred = reregistration_refusal(
                    status=phone_holder.status, status_reason=phone_holder.status_reason
                )
                if barred is not None:
                    return Decision(False, "banned_person", barred)
            return Decision(
                False,
                "mobile_terminated",
                MOBILE_TERMINATED_MESSAGE.format(
                    reason=phone_holder.status_reason_label or phone_holder.status_reason
                ),
            )
        return Decision(False, "mobile_taken", MOBILE_TAKEN_MESSAGE)
    if id_holder is not None:
        return Decision(False, "id_taken", ID_TAKEN_MESSAGE)
    return Decision(True)


# --- Coming back after a termination for unreachable contact details — agreement §3.2 -------------
# The ground is "contact details unreachable after notice": once the person proves a working
# phone the ground is gone, so they may restore the service themselves: the password proves the
# account, an SMS code proves the phone. Every other ground needs staff (or bars for good).
RESTORABLE_REASONS = frozenset({TerminationReason.UNREACHABLE})
RESTORE_WINDOW = timedelta(minutes=15)  # from the sign-in with the right password to the code


def account_restorable(*, status: str, status_reason: str) -> bool:
    """A terminated account whose only ground was unreachable contact details (agreement §3.2(2),
    rules R12) can be restored by its holder once they prove a reachable mobile."""
    return status == AccountStatus.TERMINATED and status_reason in RESTORABLE_REASONS


def restore_window_open(*, started_at: datetime, at: datetime) -> bool:
    """The sign-in that proved the password opens a restore for RESTORE_WINDOW ([start, end))."""
    return started_at <= at < started_at + RESTORE_WINDOW


# --- Identity change requests: per-account throttle — rules R1.8; PIPL Art. 51 ------------------
# A reviewer reads each request; without a limit a learner could flood the queue, or use the
# reviewer's answers to learn which ID numbers are taken. Counted over all the learner's
# requests (pending, approved or rejected) in a sliding window.
IDENTITY_CHANGE_MAX_REQUESTS = 3
IDENTITY_CHANGE_WINDOW = timedelta(days=30)
IDENTITY_CHANGE_SUBMITTED_MESSAGE = "申请已提交审核，审核结果将在个人资料页显示。"


def identity_change_decision(recent_requests: list[datetime], at: datetime) -> Decision:
    """At most IDENTITY_CHANGE_MAX_REQUESTS name/ID-number change requests per account in the
    IDENTITY_CHANGE_WINDOW before `at` (window (at - 30 days, at])."""
    since = at - IDENTITY_CHANGE_WINDOW
    if sum(1 for t in recent_requests if since < t <= at) >= IDENTITY_CHANGE_MAX_REQUESTS:
        days = IDENTITY_CHANGE_WINDOW.days
        return Decision(
            False,
            "identity_change_limit",
            f"{days} 天内最多可提交 {IDENTITY_CHANGE_MAX_REQUESTS} 次姓名或身份证号码变更申请，"
            "请稍后再试；如有急需，请联系客服。",
        )
    return Decision(True)


# --- the ID card photo attached to an identity change request ---------------------------------
# Personal data kept no longer than needed (个人信息保护法 Art. 19, Art. 28 on sensitive data): a
# photo is only what the reviewer compares with, so it is capped, stored encrypted, deleted when
# the request is decided, and only JPEG or PNG (told apart by their signatures, not by the name
# or the Content-Type the browser sends).
ID_PHOTO_MAX_BYTES = 2 * 1024 * 1024
ID_PHOTO_SIGNATURES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


def id_photo_check(data: bytes) -> tuple[str | None, str]:
    """(content type, "") for an acceptable photo, else (None, the learner's message). `data` is
    what was read: at most ID_PHOTO_MAX_BYTES + 1 bytes."""
    if not data:
        return None, "身份证照片是空文件，请重新选择。"
    if len(data) > ID_PHOTO_MAX_BYTES:
        return None, f"身份证照片不能超过 {ID_PHOTO_MAX_BYTES // (1024 * 1024)} MB，请压缩后再上传。"
    for content_type, signature in ID_PHOTO_SIGNATURES.items():
        if data.startswith(signature):
            return content_type, ""
    return None, "身份证照片只能是 JPG 或 PNG 图片。"


# --- password change by the signed-in learner (rules R1.6, R14 security log) -----------------
# Per account, counted on every POST (right or wrong current password): a stolen session cannot
# use the form to guess the password. A django-ratelimit rate string (the shared cache).
PASSWORD_CHANGE_RATE_PER_USER = "5/h"
WRONG_CURRENT_PASSWORD_MESSAGE = "当前密码不正确，密码未修改。"
SAME_PASSWORD_MESSAGE = "新密码不能与当前密码相同。"
PASSWORD_CHANGED_SMS = (
    "【内蒙古会计继续教育】您的密码已修改，其他设备上的登录已退出。若非本人操作请联系客服。"
)


# --- e-mail verification links (rules R1.4): per account and per IP, across addresses -------
# code_send_decision counts per address; an account could still send links to any number of
# addresses. These bound the links one account may have sent, whatever the address.
EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR = 3
EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_DAY = 10
EMAIL_VERIFY_RATE_PER_IP = "10/h"  # django-ratelimit rate string, the 更换邮箱 form's POSTs
EMAIL_VERIFY_THROTTLED_MESSAGE = "发送验证链接过于频繁，请稍后再试。本次未发送。"


def email_verification_send_decision(recent_sends: list[datetime], at: datetime) -> Decision:
    """May one more verification link go out for this account? ``recent_sends``: when the
    account's earlier links were created (any address). At most
    EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR in the last hour and ..._PER_DAY in the last 24 h
    (anti mail-bombing through the 更换邮箱 form; rules R1.4, R14)."""
    hour_ago, day_ago = at - timedelta(hours=1), at - timedelta(days=1)
    last_day = [t for t in recent_sends if day_ago < t <= at]
    last_hour = [t for t in last_day if t > hour_ago]
    if (
        len(last_hour) >= EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_HOUR
        or len(last_day) >= EMAIL_VERIFY_MAX_PER_ACCOUNT_PER_DAY
    ):
        return Decision(False, "email_throttled", EMAIL_VERIFY_THROTTLED_MESSAGE)
    return Decision(True)


# --- sign-in failures per account across addresses (rules R1.6) ------------------------------
# django-axes locks an (account, IP) pair after 5 failures; from many addresses one account can
# still be guessed at. After LOGIN_CAPTCHA_AFTER_FAILURES failures for one typed identifier
# within LOGIN_FAILURE_WINDOW (from any address), its sign-in needs a captcha answer before the
# password is checked. Never a full lock: a right captcha and password still sign in.
LOGIN_CAPTCHA_AFTER_FAILURES = 10
LOGIN_FAILURE_WINDOW = timedelta(minutes=30)
LOGIN_CAPTCHA_MESSAGE = "该账号近期登录失败次数较多，请重新输入密码并填写验证码。"
LOGIN_CAPTCHA_WRONG_MESSAGE = "验证码不正确，请重新计算。"


def login_identifier_normalised(raw: str) -> str:
    """The identifier a sign-in counts failures against, known account or not: an ID number in
    upper case, a mobile in its national form (+86 138… and 138… alike), anything else
    stripped. Only its keyed hash is ever stored."""
    value = unicodedata.normalize("NFKC", raw or "").strip()
    normalised = normalise_id_number(value)
    if _ID_SHAPE.match(normalised):
        return "id:" + normalised
    mobile, _ = check_mobile(value)
    if mobile:
        return "mobile:" + mobile
    return "other:" + value


def login_captcha_required(failures: int) -> bool:
    """A sign-in for an identifier with this many recent failures needs a captcha answer."""
    return failures >= LOGIN_CAPTCHA_AFTER_FAILURES


# --- passwords built from the person's own data ----------------------------------------------------
# Whoever knows a learner (a colleague, anyone holding a photocopy of the ID card) knows the name,
# its pinyin, the ID number, the birth date and the mobile: a password made of them is guessed in
# a few tries, and django-axes allows five per address. A password must keep at least this many
# letters or digits once every piece of that data is taken out of it.
PASSWORD_MIN_OWN_CHARS = 4
PASSWORD_PERSONAL_MESSAGE = (
    "密码不能由您的姓名（含拼音）、身份证号码、出生日期（年份）或手机号码组成。"
    f"请加入至少 {PASSWORD_MIN_OWN_CHARS} 位与个人信息无关的字母或数字。"
)
# Two-character family names, so 欧阳娜娜 gives ouyang + nana, not ou + yangnana.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 令狐 慕容 尉迟 长孙 宇文 公孙 夏侯 端木 独孤 南宫 西门 轩辕 司徒 呼延 "
    "澹台 万俟 闻人 赫连 申屠 钟离 百里 东郭 拓跋".split()
)
_MAX_READINGS = 16  # heteronym combinations tried per name part (单 = dan / shan / chan ...)


def _pinyin_readings(text: str) -> set[str]:
    """Every toneless pinyin reading of `text` (heteronyms combined, at most _MAX_READINGS)."""
    from itertools import islice, product

    from pypinyin import Style, pinyin

    syllables = pinyin(text, style=Style.NORMAL, heteronym=True, errors="ignore")
    return {"".join(combo).lower() for combo in islice(product(*syllables), _MAX_READINGS)} - {""}


def _initials(text: str) -> set[str]:
    from pypinyin import Style, lazy_pinyin

    letters = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")).lower()
    return {letters} if len(letters) >= 2 else set()


def password_personal_fragments(*, name: str = "", id_number: str = "", mobile: str = "") -> set[str]:
    """The pieces of a person's data a password must not be made of (lower case): the name in
    characters and pinyin (whole, family name, given name, initials), the ID number (whole, its
    last 6 and 4), the birth date (YYYYMMDD, YYMMDD, MMDD, the year) and the mobile (whole, its
    last 8 and 4). Latin-letter names give their words."""
    out: set[str] = set()
    name = (name or "").strip()
    if name:
        compact = "".join(ch for ch in name if not ch.isspace() and ch not in "·・.-")
        out.add(compact.lower())
        if any("\u4e00" <= ch <= "\u9fff" for ch in compact):
            split = 2 if compact[:2] in COMPOUND_SURNAMES and len(compact) > 2 else 1
            parts = [compact, compact[:split], compact[split:]] + name.replace("・", "·").split("·")
            for part in filter(None, parts):
                out.add(part)
                out |= _pinyin_readings(part)
            out |= _initials(compact)
        else:
            out |= {w.lower() for w in re.split(r"[\s·.\-]+", name) if len(w) >= 2}
    idn = (id_number or "").strip().lower()
    if len(idn) == 18:
        birth = idn[6:14]
        out |= {idn, idn[-6:], idn[-4:], birth, birth[2:], birth[4:], birth[:4]}
    mob = (mobile or "").strip()
    if len(mob) >= 8:
        out |= {mob, mob[-8:], mob[-4:]}
    return {f for f in out if f}


def password_personal_problem(
    password: str, *, name: str = "", id_number: str = "", mobile: str = ""
) -> str | None:
    """PASSWORD_PERSONAL_MESSAGE when, after taking out every piece of the person's data
    (longest first, letter case ignored), fewer than PASSWORD_MIN_OWN_CHARS letters or digits
    remain ("Zhangsan1990!" for 张三 born 1990 leaves "!": refused); else None. Applies at
    registration, password reset and 修改密码. Source: 网络安全等级保护基本要求 GB/T 22239-2019
    (identification and authentication: passwords of adequate complexity); decision 0013."""
    rest = (password or "").lower()
    for fragment in sorted(
        password_personal_fragments(name=name, id_number=id_number, mobile=mobile), key=len, reverse=True
    ):
        rest = rest.replace(fragment, " ")
    own = sum(1 for ch in rest if ch.isalnum())
    return PASSWORD_PERSONAL_MESSAGE if own < PASSWORD_MIN_OWN_CHARS else None


# --- the staff second factor (docs/rules.md, "Staff sign-in") --------------------------------
# Every staff account proves a second factor (a TOTP app, RFC 6238, or one recovery code) in each
# session before any page of the staff site. TOTP: 30-second steps, 6 digits, one step of clock
# difference either way, each step accepted once.
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_TOLERANCE_STEPS = 1
TOTP_KEY_BYTES = 20  # 160 bits, the size RFC 4226 §4 recommends for HMAC-SHA1
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_GROUPS = 2  # "ABCDE-FGHJK": 10 characters of a 31-letter alphabet ≈ 49 bits
RECOVERY_CODE_GROUP_LENGTH = 5
RECOVERY_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
# Wrong codes, counted per account (TOTP and recovery codes together): the first
# SECOND_FACTOR_FREE_FAILURES are free; after that each further try waits
# SECOND_FACTOR_FIRST_WAIT doubled per failure beyond the free ones, at most SECOND_FACTOR_MAX_WAIT.
# A right code resets the count.
SECOND_FACTOR_FREE_FAILURES = 5
SECOND_FACTOR_FIRST_WAIT = timedelta(minutes=1)
SECOND_FACTOR_MAX_WAIT = timedelta(hours=24)

SECOND_FACTOR_WRONG_MESSAGE = "验证码不正确或已使用，请重新输入。"
SECOND_FACTOR_LOCKED_MESSAGE = "验证码错误次数过多，请于 {until} 后再试。"
SECOND_FACTOR_SHAPE_MESSAGE = "请输入身份验证器上的 6 位数字，或一个恢复码（如 ABCDE-FGHJK）。"
SECOND_FACTOR_NOT_STAFF_MESSAGE = "只有工作人员账号需要两步验证。"
SECOND_FACTOR_RESET_SELF_MESSAGE = "不能重置自己的两步验证；请用恢复码登录后重新绑定。"
SECOND_FACTOR_RESET_NOT_STAFF_MESSAGE = "只能重置工作人员账号的两步验证。"
SECOND_FACTOR_RESET_NOT_SUPERUSER_MESSAGE = "只有超级管理员可以重置他人的两步验证。"
SECOND_FACTOR_ENROLLED_ALREADY_MESSAGE = "该账号已绑定身份验证器。"


def second_factor_required(*, is_authenticated: bool, is_staff: bool, verified: bool) -> bool:
    """A signed-in staff session that has not proven its second factor may use nothing but the
    second-factor pages and sign-out. Learners and visitors are never asked."""
    return is_authenticated and is_staff and not verified


def second_factor_wait(*, failures: int, last_failure_at: datetime | None, at: datetime) -> datetime | None:
    """When the next code may be tried, or None when it may be tried now. Free for the first
    SECOND_FACTOR_FREE_FAILURES wrong codes; then 1, 2, 4 … minutes (capped at 24 hours) after the
    last wrong one. Per account, so changing address or browser gains nothing."""
    if failures < SECOND_FACTOR_FREE_FAILURES or last_failure_at is None:
        return None
    extra = failures - SECOND_FACTOR_FREE_FAILURES
    wait = min(SECOND_FACTOR_FIRST_WAIT * (2 ** min(extra, 16)), SECOND_FACTOR_MAX_WAIT)
    until = last_failure_at + wait
    return until if at < until else None


_TOTP_SHAPE = re.compile(r"^[0-9]{6}$")


def second_factor_code_kind(raw: str) -> tuple[str, str]:
    """("totp", digits), ("recovery", normalised code) or ("", "") for anything else. Spaces and
    dashes are ignored, letters are compared in upper case, full-width characters as ASCII."""
    value = unicodedata.normalize("NFKC", raw or "").upper()
    value = "".join(ch for ch in value if ch not in " -\t")
    if _TOTP_SHAPE.match(value) and len(value) == TOTP_DIGITS:
        return "totp", value
    length = RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_LENGTH
    if len(value) == length and all(ch in RECOVERY_CODE_ALPHABET for ch in value):
        return "recovery", value
    return "", ""


def recovery_code_display(normalised: str) -> str:
    """ABCDEFGHJK → ABCDE-FGHJK."""
    n = RECOVERY_CODE_GROUP_LENGTH
    return "-".join(normalised[i : i + n] for i in range(0, len(normalised), n))


# --- re-registration (rules R12) ------------------------------------------------------------
# "A person terminated for a violation who registers again (same ID number) is refused."
# Only a violation bars the person: the other grounds (unreachable contact details, false data,
# refusing a new agreement, capacity) are cured by registering again correctly.
REREGISTRATION_BARRED_REASONS = frozenset({TerminationReason.VIOLATION})
REREGISTRATION_REFUSED_MESSAGE = (
    "该身份证号码的账号因违反用户协议已被终止服务，不能再次注册。如有异议，请联系客服。"
)


def reregistration_refusal(*, status: str, status_reason: str) -> str | None:
    """The Chinese refusal for a registration whose ID number belongs to an existing account in
    this state, or None when this rule does not refuse it (rules R12; agreement §3.2). (An active or
    otherwise closed account with the same ID number is refused by accounts' own "one account per
    ID number" rule, rules R1.2.)"""
    if status == AccountStatus.TERMINATED and status_reason in REREGISTRATION_BARRED_REASONS:
        return REREGISTRATION_REFUSED_MESSAGE
    return None
