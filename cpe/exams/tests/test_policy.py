"""Exam rules as tables (no database)."""

import random
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from cpe.exams import policy
from cpe.learning.policy import Window, enrolment_state

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=dt_timezone.utc)
WIN = Window(T0, T0 + timedelta(days=90))
SEC = timedelta(seconds=1)


def elig(**kw):
    base = dict(
        is_staff=False,
        on_hold=False,
        enrolment_state="valid",
        chapters_total=3,
        chapters_done=3,
        attempts_used=0,
        max_attempts=None,
    )
    base.update(kw)
    return policy.exam_eligibility(**base)


@pytest.mark.parametrize(
    "at, allowed, code",
    [
        (WIN.start - SEC, False, "not_started"),
        (WIN.start, True, ""),
        (WIN.end - SEC, True, ""),  # the second before the end: still valid
        (WIN.end, False, "expired"),  # half-open: at the end it is over
        (WIN.end + SEC, False, "expired"),
    ],
)
def test_eligibility_at_the_validity_boundary(at, allowed, code):
    d = elig(enrolment_state=enrolment_state(closed=False, window=WIN, at=at))
    assert (d.allowed, d.code) == (allowed, code)


@pytest.mark.parametrize(
    "kw, code, missing_hint",
    [
        ({}, "", None),
        ({"chapters_done": 2}, "chapters_incomplete", "学完其余 1 个章节"),
        ({"chapters_done": 0}, "chapters_incomplete", "学完其余 3 个章节"),
        ({"chapters_total": 0, "chapters_done": 0}, "no_chapters", None),
        ({"on_hold": True}, "on_hold", "更正个人资料"),
        ({"is_staff": True}, "not_learner", None),
        ({"enrolment_state": "closed"}, "closed", None),
        ({"enrolment_state": "not_enrolled"}, "not_enrolled", None),
        ({"attempts_used": 99}, "", None),  # unlimited by default
        ({"attempts_used": 3, "max_attempts": 3}, "no_attempts", None),
        ({"attempts_used": 2, "max_attempts": 3}, "", None),
        ({"bank_ok": False}, "bank_too_small", None),
        ({"on_hold": True, "chapters_done": 0}, "on_hold", None),  # hold is told first
    ],
)
def test_eligibility_table(kw, code, missing_hint):
    d = elig(**kw)
    assert d.allowed == (code == "") and d.code == code
    if missing_hint:
        assert missing_hint in d.missing
    if not d.allowed:
        assert d.message


def test_default_composition_is_10_10_10_for_100():
    assert [(p.qtype, p.count, p.points) for p in policy.PAPER_COMPOSITION] == [
        ("single", 10, 3),
        ("multiple", 10, 4),
        ("judge", 10, 3),
    ]
    assert policy.composition_valid(policy.PAPER_COMPOSITION) == (True, "")


@pytest.mark.parametrize(
    "comp, ok",
    [
        ((policy.Part("single", 20, 5),), True),
        ((policy.Part("single", 10, 3), policy.Part("judge", 10, 3)), False),  # 60
        ((policy.Part("single", 10, 5), policy.Part("single", 10, 5)), False),  # type twice
        ((policy.Part("essay", 10, 10),), False),
        ((policy.Part("single", 0, 3), policy.Part("judge", 20, 5)), False),
    ],
)
def test_composition_validity(comp, ok):
    assert policy.composition_valid(comp)[0] is ok


def bank(n=15):
    ids = iter(range(1, 1000))
    b = {t: [next(ids) for _ in range(n)] for t in ("single", "multiple", "judge")}
    counts = {q: (2 if t == "judge" else 4) for t, qs in b.items() for q in qs}
    return b, counts


def test_draw_paper_by_type_without_repeats_and_shuffled():
    b, counts = bank()
    items = policy.draw_paper(b, counts, policy.PAPER_COMPOSITION, random.Random(7))
    assert [i.qtype for i in items] == ["single"] * 10 + ["multiple"] * 10 + ["judge"] * 10
    assert sum(i.points for i in items) == 100
    assert len({i.question_id for i in items}) == 30
    assert all(i.question_id in b[i.qtype] for i in items)
    assert all(sorted(i.option_order) == list(range(counts[i.question_id])) for i in items)
    assert all(i.option_order == (0, 1) for i in items if i.qtype == "judge")  # 正确/错误 stay in place
    assert any(i.option_order != (0, 1, 2, 3) for i in items if i.qtype != "judge")
    other = policy.draw_paper(b, counts, policy.PAPER_COMPOSITION, random.Random(8))
    assert [i.question_id for i in other] != [i.question_id for i in items]  # drawn at random


def test_draw_paper_refuses_a_small_bank_unless_short_allowed():
    b, counts = bank(9)
    assert policy.bank_sufficient({t: len(v) for t, v in b.items()}, policy.PAPER_COMPOSITION) == (
        False,
        {"single": 1, "multiple": 1, "judge": 1},
    )
    with pytest.raises(ValueError):
        policy.draw_paper(b, counts, policy.PAPER_COMPOSITION, random.Random(1))
    assert (
        len(policy.draw_paper(b, counts, policy.PAPER_COMPOSITION, random.Random(1), allow_short=True)) == 27
    )
    assert policy.bank_sufficient({"single": 10, "multiple": 10, "judge": 10}, policy.PAPER_COMPOSITION)[0]


@pytest.mark.parametrize(
    "qtype, correct, given, partial, points",
    [
        ("single", [1], [1], False, 3),
        ("single", [1], [2], False, 0),
        ("single", [1], [], False, 0),
        ("judge", [0], [0], False, 3),
        ("judge", [0], [1], False, 0),
        ("multiple", [0, 2], [0, 2], False, 4),
        ("multiple", [0, 2], [2, 0], False, 4),  # order does not matter
        ("multiple", [0, 2], [0], False, 0),  # all-or-nothing: a missing option
        ("multiple", [0, 2], [0, 1, 2], False, 0),  # an extra wrong option
        ("multiple", [0, 2], [0, 1, 2, 3], False, 0),  # everything ticked
        ("multiple", [0, 2], [0], True, 2),  # partial credit configured: half, rounded down
        ("multiple", [0, 2], [0, 1], True, 0),  # a wrong option still earns nothing
        ("multiple", [0, 2], [], True, 0),
        ("multiple", [0, 2], [0, 2], True, 4),
    ],
)
def test_grading_table(qtype, correct, given, partial, points):
    pts = 3 if qtype != "multiple" else 4
    assert policy.score_item(qtype, correct, given, pts, partial_credit=partial) == points


@pytest.mark.parametrize(
    "qtype, chosen, n, out",
    [
        ("single", [2], 4, (2,)),
        ("single", [1, 2], 4, ()),  # two answers to a single choice: none
        ("multiple", [3, 1, 1], 4, (1, 3)),
        ("multiple", [9, -1, 0], 4, (0,)),  # out of range dropped
        ("judge", [1], 2, (1,)),
    ],
)
def test_answer_normalisation(qtype, chosen, n, out):
    assert policy.normalise_answer(qtype, chosen, n) == out


@pytest.mark.parametrize("score, passed", [(0, False), (59, False), (60, True), (100, True)])
def test_pass_mark_60(score, passed):
    assert policy.passed(score) is passed
    assert policy.PASS_MARK == 60


def test_time_limit_enforced_at_the_deadline_plus_grace():
    deadline = policy.attempt_deadline(T0)
    assert deadline == T0 + timedelta(minutes=60)
    assert policy.answers_accepted(deadline, deadline + policy.SUBMIT_GRACE - SEC)
    assert not policy.answers_accepted(deadline, deadline + policy.SUBMIT_GRACE)
    assert policy.attempt_overdue(deadline, deadline + policy.SUBMIT_GRACE)
    assert policy.seconds_left(deadline, T0) == 3600 and policy.seconds_left(deadline, deadline + SEC) == 0


def test_attempts_left():
    assert policy.attempts_left(5, None) is None
    assert policy.attempts_left(1, 3) == 2 and policy.attempts_left(4, 3) == 0


# --- practice and exam share no answer --------------------------------------------------------
P, E = policy.POOL_PRACTICE, policy.POOL_EXAM


@pytest.mark.parametrize(
    "pool, state, in_exam, allowed, code",
    [
        (None, "valid", False, False, "not_found"),  # no such question
        (E, "valid", False, False, "not_found"),  # an exam question: the same answer as none
        (E, "valid", True, False, "not_found"),
        (E, "expired", False, False, "not_found"),
        (P, "valid", False, True, ""),
        (P, "valid", True, False, "exam_in_progress"),  # nothing revealed during an exam
        (P, "expired", False, False, "not_enrolled"),
        (P, "not_enrolled", True, False, "not_enrolled"),
        (P, "closed", False, False, "not_enrolled"),
    ],
)
def test_practice_feedback_decision(pool, state, in_exam, allowed, code):
    d = policy.practice_feedback_decision(question_pool=pool, enrolment_state=state, exam_in_progress=in_exam)
    assert (d.allowed, d.code) == (allowed, code)
    if not allowed:
        assert d.message


def test_the_refusals_tell_nothing_about_the_question():
    missing = policy.practice_feedback_decision(
        question_pool=None, enrolment_state="valid", exam_in_progress=False
    )
    exam = policy.practice_feedback_decision(question_pool=E, enrolment_state="valid", exam_in_progress=True)
    assert missing == exam
    assert "交卷" in policy.practice_decision(enrolment_state="valid", exam_in_progress=True).message


@pytest.mark.parametrize(
    "is_open, at, blocks",
    [
        (True, T0, True),
        (True, T0 + timedelta(minutes=60) - SEC, True),
        (True, T0 + timedelta(minutes=60) + policy.SUBMIT_GRACE - SEC, True),  # answers still accepted
        (True, T0 + timedelta(minutes=60) + policy.SUBMIT_GRACE, False),  # half-open: over
        (False, T0, False),  # graded
    ],
)
def test_an_attempt_blocks_practice_while_it_takes_answers(is_open, at, blocks):
    deadline = policy.attempt_deadline(T0)
    assert policy.attempt_blocks_practice(is_open=is_open, deadline=deadline, at=at) is blocks
    assert blocks == (is_open and policy.answers_accepted(deadline, at))


def test_papers_and_practice_draw_from_different_pools():
    assert policy.paper_pool() == E and policy.practice_pool() == P and P != E
    assert policy.DEFAULT_POOL == E  # a question nobody placed is never shown


@pytest.mark.parametrize(
    "pool, other, conflict",
    [
        (P, None, False),
        (E, None, False),
        (P, P, False),
        (E, E, False),
        (P, E, True),
        (E, P, True),
    ],
)
def test_a_question_text_is_in_one_pool_of_its_course(pool, other, conflict):
    assert policy.pool_conflict(pool, other) is conflict


def test_question_key_ignores_whitespace():
    assert policy.question_key(" 下列 属于\u3000会计要素的有？\n") == policy.question_key(
        "下列属于会计要素的有？"
    )
    assert policy.question_key("甲") != policy.question_key("乙")
