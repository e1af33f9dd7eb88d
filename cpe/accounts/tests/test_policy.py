"""Tables of cases for the account rules (no database)."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_tz

import pytest

from cpe.accounts import policy
from cpe.accounts.tests.factories import make_id_number

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    "raw,ok,code",
    [
        (make_id_number(), True, ""),
        (make_id_number().lower(), True, ""),  # no X here, but lower-case is fine
        ("11010519491231002X", True, ""),  # the standard's own example, X check
        ("11010519491231002x", True, ""),  # x accepted as X
        (" 11010519491231002X ", True, ""),  # surrounding spaces
        ("１１０１０５１９４９１２３１００２Ｘ", True, ""),  # full-width digits
        (make_id_number(area="810000"), True, ""),  # Hong Kong residence permit
        (make_id_number(area="820000"), True, ""),  # Macao residence permit
        (make_id_number(area="830000"), True, ""),  # Taiwan residence permit
        (make_id_number(area="152601"), True, ""),  # retired county code (old 乌兰察布盟)
        ("11010519491231002", False, "id_shape"),  # 17 characters
        ("1101051949123100X2", False, "id_shape"),  # X not last
        ("", False, "id_required"),
        ("110105194912310021", False, "id_checksum"),  # wrong check character
        (make_id_number(area="990000"), False, "id_area"),  # no such province
        (make_id_number(birth="19900230"), False, "id_birth"),  # 30 February
        (make_id_number(birth="20261129"), False, "id_birth"),  # born tomorrow
        (make_id_number(birth="18991231"), False, "id_birth"),  # implausibly old
    ],
)
def test_id_number(raw, ok, code):
    result = policy.check_id_number(raw, today=TODAY)
    assert result.ok is ok
    assert result.code == code
    if ok:
        assert result.value == result.value.upper() and len(result.value) == 18
        assert result.birth_date is not None
    else:
        assert result.message  # a Chinese reason for the user


def test_id_check_char_matches_iso7064():
    # Every 17-digit body has exactly one valid check character.
    body = "15010219900307123"
    valid = [c for c in "0123456789X" if policy.check_id_number(body + c, today=TODAY).ok]
    assert valid == [policy.id_check_char(body)]


SHANGHAI_MIDNIGHT_UTC = datetime(2026, 11, 28, 16, 0, 0, tzinfo=dt_tz.utc)  # 2026-11-29 00:00 Shanghai


@pytest.mark.parametrize(
    "at,allowed,needs_decl,code",
    [
        (
            SHANGHAI_MIDNIGHT_UTC - timedelta(seconds=1),
            False,
            True,
            "minor_needs_declaration",
        ),  # 17, one second short
        (SHANGHAI_MIDNIGHT_UTC, True, False, ""),  # 18th birthday begins
    ],
)
def test_capacity_birthday_boundary_to_the_second(at, allowed, needs_decl, code):
    birth = date(2008, 11, 29)
    d = policy.registration_capacity(birth, at, self_supporting=False)
    assert (d.allowed, d.needs_declaration, d.code) == (allowed, needs_decl, code)


@pytest.mark.parametrize(
    "birth,self_supporting,allowed,flag,code",
    [
        (date(1990, 1, 1), False, True, False, ""),
        (date(2009, 6, 1), True, True, True, "self_supporting"),  # 17 with declaration: flagged
        (date(2010, 11, 28), True, True, True, "self_supporting"),  # 16 today
        (date(2009, 6, 1), False, False, True, "minor_needs_declaration"),
        (date(2010, 11, 29), True, False, False, "under_16"),  # 16 tomorrow
        (date(2015, 1, 1), True, False, False, "under_16"),
    ],
)
def test_capacity(birth, self_supporting, allowed, flag, code):
    at = datetime(2026, 11, 28, 4, 0, tzinfo=dt_tz.utc)  # noon in Shanghai
    d = policy.registration_capacity(birth, at, self_supporting=self_supporting)
    assert (d.allowed, d.needs_declaration, d.code) == (allowed, flag, code)


@pytest.mark.parametrize(
    "birth,day,age",
    [
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),  # leap-day birthday reached on 1 March
        (date(2008, 11, 29), date(2026, 11, 28), 17),
        (date(2008, 11, 29), date(2026, 11, 29), 18),
    ],
)
def test_age_on(birth, day, age):
    assert policy.age_on(birth, day) == age


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("13800000001", "13800000001"),
        ("+86 138 0000 0001", "13800000001"),
        ("138-0000-0001", "13800000001"),
        ("01065529988", None),  # Beijing landline: phonenumbers calls it valid, not a mobile
        ("1380000000", None),  # 10 digits
        ("23800000001", None),
        ("", None),
    ],
)
def test_mobile(raw, expected):
    value, message = policy.check_mobile(raw)
    assert value == expected
    assert bool(message) is (expected is None)


T0 = datetime(2026, 11, 28, 8, 0, tzinfo=dt_tz.utc)


@pytest.mark.parametrize(
    "sends,at,allowed,code",
    [
        ([], T0, True, ""),
        ([T0], T0 + timedelta(seconds=59), False, "too_soon"),
        ([T0], T0 + policy.CODE_RESEND_INTERVAL, True, ""),
        (
            [T0 - timedelta(minutes=i * 2) for i in range(policy.CODE_MAX_PER_TARGET_PER_DAY)],
            T0 + timedelta(minutes=5),
            False,
            "daily_limit",
        ),
        ([T0 - timedelta(days=1, seconds=1)] * 20, T0, True, ""),  # yesterday's sends no longer count
    ],
)
def test_code_send_throttle(sends, at, allowed, code):
    d = policy.code_send_decision(sends, at)
    assert (d.allowed, d.code) == (allowed, code)


@pytest.mark.parametrize(
    "consumed,attempts,age,allowed,code",
    [
        (False, 0, timedelta(minutes=1), True, ""),
        (True, 0, timedelta(minutes=1), False, "used"),
        (False, 0, policy.CODE_TTL - timedelta(seconds=1), True, ""),
        (False, 0, policy.CODE_TTL, False, "expired"),
        (False, policy.CODE_MAX_ATTEMPTS, timedelta(minutes=1), False, "too_many_attempts"),
    ],
)
def test_code_use(consumed, attempts, age, allowed, code):
    d = policy.code_use_decision(created_at=T0, consumed=consumed, attempts=attempts, at=T0 + age)
    assert (d.allowed, d.code) == (allowed, code)


@pytest.mark.parametrize(
    "action,on_hold,allowed",
    [
        ("buy", True, False),
        ("study", True, False),
        ("exam", True, False),
        ("edit_profile", True, True),
        ("buy", False, True),
    ],
)
def test_correction_hold(action, on_hold, allowed):
    assert policy.hold_allows(action, on_hold=on_hold) is allowed


@pytest.mark.parametrize(
    "raw,ok",
    [
        ("张三", True),
        ("欧阳娜娜", True),
        ("阿依古丽·买买提", True),
        ("张", False),
        ("张3", False),
        ("", False),
    ],
)
def test_name(raw, ok):
    assert (policy.check_name(raw)[0] is not None) is ok


# --- who holds an ID number or mobile: what a registration is told after the SMS code ----------
from cpe.accounts.states import AccountStatus, TerminationReason  # noqa: E402

_ACTIVE = policy.HolderFacts(AccountStatus.ACTIVE, "")
_VIOLATION = policy.HolderFacts(AccountStatus.TERMINATED, TerminationReason.VIOLATION, "违反用户协议")
_UNREACHABLE = policy.HolderFacts(
    AccountStatus.TERMINATED, TerminationReason.UNREACHABLE, "联系方式失效且经通知未更新"
)
_FALSE_DATA = policy.HolderFacts(AccountStatus.TERMINATED, TerminationReason.FALSE_DATA, "注册资料虚假")


@pytest.mark.parametrize(
    "phone_holder, id_holder, same, code",
    [
        (None, None, False, ""),
        # Only the new phone is proved: one answer for the ID number, whatever its account's state.
        (None, _ACTIVE, False, "id_taken"),
        (None, _VIOLATION, False, "id_taken"),
        (None, _UNREACHABLE, False, "id_taken"),
        (None, _FALSE_DATA, False, "id_taken"),
        # The proved phone has an account: its holder may learn that account's state.
        (_ACTIVE, None, False, "mobile_taken"),
        (_ACTIVE, _VIOLATION, False, "mobile_taken"),  # never a word about the other account
        (_VIOLATION, _VIOLATION, True, "banned_person"),
        (_VIOLATION, None, False, "mobile_terminated"),
        (_UNREACHABLE, _UNREACHABLE, True, "mobile_restorable"),
        (_UNREACHABLE, None, False, "mobile_restorable"),
        (_FALSE_DATA, _FALSE_DATA, True, "mobile_terminated"),
    ],
)
def test_registration_refusal(phone_holder, id_holder, same, code):
    d = policy.registration_refusal(phone_holder=phone_holder, id_holder=id_holder, same_account=same)
    assert d.allowed is (code == "") and d.code == code
    if code == "id_taken":
        assert d.message == policy.ID_TAKEN_MESSAGE  # the same text for every state
        assert "违反" not in d.message and "终止" not in d.message
    if phone_holder is None or phone_holder.status != AccountStatus.TERMINATED:
        assert "违反" not in d.message


def test_code_sent_message_names_only_the_masked_number():
    assert policy.code_sent_message("138****8000") == "验证码已发送至 138****8000，10 分钟内有效。"


@pytest.mark.parametrize(
    "status, reason, ok",
    [
        (AccountStatus.TERMINATED, TerminationReason.UNREACHABLE, True),
        *[
            (AccountStatus.TERMINATED, r, False)
            for r in TerminationReason.values
            if r != TerminationReason.UNREACHABLE
        ],
        (AccountStatus.ACTIVE, "", False),
        (AccountStatus.CLOSED, "", False),
        (AccountStatus.CLOSED, TerminationReason.UNREACHABLE, False),
    ],
)
def test_account_restorable_only_after_unreachable(status, reason, ok):
    assert policy.account_restorable(status=status, status_reason=reason) is ok


def test_restore_window_is_half_open():
    t0 = datetime(2026, 11, 28, 8, 0, tzinfo=dt_tz.utc)
    assert policy.restore_window_open(started_at=t0, at=t0)
    assert policy.restore_window_open(started_at=t0, at=t0 + policy.RESTORE_WINDOW - timedelta(seconds=1))
    assert not policy.restore_window_open(started_at=t0, at=t0 + policy.RESTORE_WINDOW)
    assert not policy.restore_window_open(started_at=t0, at=t0 - timedelta(seconds=1))


def test_identity_change_throttle_per_account():
    at = datetime(2026, 11, 28, 8, 0, tzinfo=dt_tz.utc)
    n, window = policy.IDENTITY_CHANGE_MAX_REQUESTS, policy.IDENTITY_CHANGE_WINDOW
    assert policy.identity_change_decision([], at).allowed
    assert policy.identity_change_decision([at - timedelta(days=1)] * (n - 1), at).allowed
    refused = policy.identity_change_decision([at - timedelta(days=1)] * n, at)
    assert not refused.allowed and refused.code == "identity_change_limit" and str(n) in refused.message
    # The window is (at - 30 days, at]: a request exactly 30 days old no longer counts.
    assert policy.identity_change_decision([at - window] * n, at).allowed
    assert not policy.identity_change_decision([at - window + timedelta(seconds=1)] * n, at).allowed
