"""Credit, completion and certificate rules as tables (no database)."""

import pytest

from cpe.credits import policy


def ys(prof, pub, required=90, prof_min=60, cph=1):
    return policy.year_status(
        required_hours=required,
        professional_min_hours=prof_min,
        credits_per_hour=cph,
        professional_hours=prof,
        public_hours=pub,
    )


@pytest.mark.parametrize(
    "prof, pub, required, prof_min, complete, missing, missing_prof",
    [
        (0, 0, 90, 60, False, 90, 60),
        (60, 30, 90, 60, True, 0, 0),  # exactly the rule
        (59, 31, 90, 60, False, 1, 1),  # 90 in all, one professional hour short
        (60, 29, 90, 60, False, 1, 0),  # professional met, one hour short
        (90, 0, 90, 60, True, 0, 0),
        (48, 42, 90, 60, False, 12, 12),  # public beyond the cap never replaces professional
        (40, 38, 90, 60, False, 20, 20),
        (70, 8, 90, 60, False, 12, 0),
        (30, 60, 90, 0, True, 0, 0),  # a year without a professional minimum
        (0, 89, 90, 0, False, 1, 0),
        (0, 0, 0, 0, True, 0, 0),
    ],
)
def test_year_completion_with_and_without_professional_minimum(
    prof, pub, required, prof_min, complete, missing, missing_prof
):
    s = ys(prof, pub, required, prof_min)
    assert (s.complete, s.missing_hours, s.missing_professional) == (complete, missing, missing_prof)
    assert policy.year_certificate_allowed(s) is complete
    assert 0 <= s.percent <= 100 and (s.percent == 100) == complete


def test_planner_lines():
    assert ys(70, 8).planner_line == "还需 12 学时（专业科目已达标）"
    assert ys(52, 26).planner_line == "还需 12 学时，其中专业科目 8 学时"
    assert "已达标" in ys(60, 30).planner_line


def test_credits_per_hour_from_the_year():
    assert policy.credits_for(24, 1) == 24 and policy.credits_for(24, 2) == 48
    assert ys(60, 30, cph=2).credits == 180


@pytest.mark.parametrize(
    "passed, has_active, record",
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_once_per_course_per_year(passed, has_active, record):
    assert policy.record_on_pass(passed=passed, has_active_record=has_active) is record


def test_certificate_eligibility():
    assert policy.course_certificate_allowed("active") and not policy.course_certificate_allowed("revoked")


def test_verification_numbers_are_unguessable_and_well_formed():
    import secrets

    n = policy.verification_number("year", 2026, bytes(10))
    assert n == "ZS2026-0000-0000-0000-0000" and policy.is_verification_number(n)
    many = {policy.verification_number("course", 2026, secrets.token_bytes(10)) for _ in range(2000)}
    assert len(many) == 2000 and all(
        policy.is_verification_number(x) and x.startswith("HG2026-") for x in many
    )
    assert policy.normalise_number(" zs2026-oooo-iiii-llll-0000 ") == "ZS2026-0000-1111-1111-0000"
    assert not policy.is_verification_number("ZS2026-0000")
    with pytest.raises(ValueError):
        policy.verification_number("year", 2026, b"short")


@pytest.mark.parametrize(
    "found, name_ok, status, visible",
    [
        (True, True, "active", True),
        (True, False, "active", False),  # a mismatch ...
        (False, False, "", False),  # ... and an unknown person: the same refusal
        (True, True, "closed", False),  # a locked (closed) account is never found
        (True, True, "terminated", False),
    ],
)
def test_public_query_visibility(found, name_ok, status, visible):
    assert policy.public_query_visible(found=found, name_matches=name_ok, account_status=status) is visible
