"""The demo courses' question banks: each course its own exam and practice questions, none
shared between courses or pools, a full paper in every exam pool, and the errors of the old
shared bank gone (an amount error on an original voucher is reissued, never corrected; a bank
statement is not an original voucher; no course title stuck on a stem)."""

import pytest

from cpe.exams import demo, policy, services
from cpe.exams.demo_bank import BANKS
from cpe.exams.models import Question
from cpe.exams.tests.factories import make_course

pytestmark = pytest.mark.django_db
TITLES = {
    "P01": "《企业会计准则》重点解读",
    "P02": "政府会计制度实务",
    "P03": "管理会计工具与应用",
    "G01": "会计职业道德与诚信建设",
    "G02": "数字化转型与数据安全",
}


@pytest.fixture
def demo_courses(year):
    courses = {}
    for suffix, title in TITLES.items():
        c = make_course(year, f"2026-{suffix}", bank=False, chapters=2)
        c.title = title
        c.save(update_fields=["title"])
        courses[suffix] = c
    demo.seed_question_banks(course_codes=[c.code for c in courses.values()])
    return courses


def test_each_demo_course_has_its_own_bank_with_a_full_paper(demo_courses):
    seen = {}
    for suffix, course in demo_courses.items():
        ok, short = policy.bank_sufficient(services.bank_counts(course), services.current_rules().composition)
        assert ok, (suffix, short)
        stems = set(Question.objects.filter(course=course).values_list("stem", flat=True))
        assert stems == {row[0] for pool in BANKS[suffix].values() for rows in pool.values() for row in rows}
        for other, other_stems in seen.items():
            assert not stems & other_stems, (suffix, other)
        seen[suffix] = stems
        exam = {
            policy.question_key(s)
            for s in Question.objects.filter(course=course, pool=policy.POOL_EXAM).values_list(
                "stem", flat=True
            )
        }
        practice = {
            policy.question_key(s)
            for s in Question.objects.filter(course=course, pool=policy.POOL_PRACTICE).values_list(
                "stem", flat=True
            )
        }
        assert exam and practice and not exam & practice
        assert not Question.objects.filter(course=course, pool=policy.POOL_PRACTICE, chapter=None).exists()
    assert demo.seed_question_banks(course_codes=[c.code for c in demo_courses.values()]) == 0


def test_no_stem_carries_a_course_title(demo_courses):
    for course in demo_courses.values():
        for stem in Question.objects.filter(course=course).values_list("stem", flat=True):
            assert f"（{course.title}）" not in stem, stem


def _all_rows():
    from cpe.exams.demo import GENERAL

    for bank in [*BANKS.values(), GENERAL]:
        for pool in bank.values():
            for qtype, rows in pool.items():
                for row in rows:
                    yield qtype, row


def test_an_amount_error_on_an_original_voucher_is_never_corrected():
    """会计法 第十四条: an original voucher with an amount error is reissued by its issuer."""
    for qtype, row in _all_rows():
        stem = row[0]
        if "金额有错误" in stem:
            assert qtype == "judge" and "重开" in stem and "不得在原始凭证上更正" in stem and row[1] == [0], (
                stem
            )
        if qtype == "judge" and "更正" in stem and "金额" in stem and "原始凭证" in stem:
            assert row[1] == [0] and "不得" in stem, stem


def test_a_bank_statement_is_never_a_right_answer_for_an_original_voucher():
    for qtype, row in _all_rows():
        if qtype in ("single", "multiple") and "原始凭证" in row[0]:
            stem, opts, ans = row[:3]
            for i in ans:
                assert "对账单" not in opts[i] and "调节表" not in opts[i], stem


def test_every_row_is_well_formed():
    for qtype, row in _all_rows():
        if qtype == "judge":
            assert row[1] in ([0], [1]), row
        else:
            stem, opts, ans = row[:3]
            assert len(set(opts)) == len(opts) >= 4 and all(0 <= i < len(opts) for i in ans), stem
            assert (len(ans) == 1) == (qtype == "single"), stem


def test_an_older_demo_database_gets_the_courses_own_bank_and_the_wrong_questions_retired(year):
    from cpe.exams.demo import GENERAL

    course = make_course(year, "2026-G02", bank=False, chapters=1)
    old = [
        Question(
            course=course,
            pool=pool,
            qtype=policy.JUDGE,
            stem=stem,
            options=list(policy.JUDGE_OPTIONS),
            answer=[0],
        )
        for pool, stem in (
            (policy.POOL_EXAM, "原始凭证金额有错误的，应当由出具单位重开或更正。"),
            (policy.POOL_PRACTICE, "旧练习题"),
        )
    ]
    Question.objects.bulk_create(old)
    assert demo.seed_question_banks(course_codes=["2026-G02"]) == 45
    active = set(Question.objects.filter(course=course, is_active=True).values_list("stem", flat=True))
    assert "原始凭证金额有错误的，应当由出具单位重开或更正。" not in active and "旧练习题" not in active
    assert len(active) == 45 and demo.seed_question_banks(course_codes=["2026-G02"]) == 0
    assert GENERAL["exam"]["judge"][0][0] not in active
