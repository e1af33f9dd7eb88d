"""Support rules as tables (no database)."""

import pytest

from cpe.support import policy
from cpe.support.states import ThreadEvent as E
from cpe.support.states import ThreadStatus as S


@pytest.mark.parametrize(
    "text, allowed, code",
    [
        ("", False, "required"),
        ("   ", False, "required"),
        ("a" * (policy.BODY_MIN_CHARS - 1), False, "too_short"),
        ("a" * policy.BODY_MIN_CHARS, True, ""),
        ("  " + "问" * policy.BODY_MAX_CHARS + "  ", True, ""),  # blanks around do not count
        ("问" * (policy.BODY_MAX_CHARS + 1), False, "too_long"),
    ],
)
def test_body_length(text, allowed, code):
    d = policy.check_body(text)
    assert (d.allowed, d.code) == (allowed, code)
    if not allowed:
        assert "问题描述" in d.message


@pytest.mark.parametrize(
    "n, allowed",
    [
        (policy.TITLE_MIN_CHARS - 1, False),
        (policy.TITLE_MIN_CHARS, True),
        (policy.TITLE_MAX_CHARS, True),
        (policy.TITLE_MAX_CHARS + 1, False),
    ],
)
def test_title_length(n, allowed):
    assert policy.check_title("题" * n).allowed is allowed


@pytest.mark.parametrize(
    "waiting, allowed",
    [
        (0, True),
        (policy.MAX_WAITING_THREADS - 1, True),
        (policy.MAX_WAITING_THREADS, False),
        (policy.MAX_WAITING_THREADS + 5, False),
    ],
)
def test_waiting_limit(waiting, allowed):
    d = policy.ask_decision(waiting)
    assert d.allowed is allowed
    if not allowed:
        assert d.code == "too_many_waiting" and f"最多 {policy.MAX_WAITING_THREADS} 个" in d.message


@pytest.mark.parametrize(
    "status, event, after",
    [
        (S.WAITING, E.FOLLOW_UP, S.WAITING),
        (S.ANSWERED, E.FOLLOW_UP, S.WAITING),
        (S.WAITING, E.ANSWER, S.ANSWERED),
        (S.ANSWERED, E.ANSWER, S.ANSWERED),
        (S.WAITING, E.CLOSE, S.CLOSED),
        (S.ANSWERED, E.CLOSE, S.CLOSED),
        (S.CLOSED, E.FOLLOW_UP, None),
        (S.CLOSED, E.ANSWER, None),
        (S.CLOSED, E.CLOSE, None),
    ],
)
def test_transitions(status, event, after):
    assert policy.next_status(status, event) == after
    d = policy.move_decision(status, event)
    assert d.allowed is (after is not None)
    if status == S.CLOSED:
        assert d.code == "closed" and "已关闭" in d.message


@pytest.mark.parametrize(
    "query, terms",
    [
        ("", []),
        ("  发票  ", ["发票"]),
        ("发票，截止 时间？", ["发票", "截止", "时间"]),
        ("Invoice invoice", ["invoice"]),
        ("a b c d e f g", ["a", "b", "c", "d", "e"]),
        ("长" * 80, ["长" * policy.FAQ_QUERY_MAX_CHARS]),
    ],
)
def test_faq_terms(query, terms):
    assert policy.faq_terms(query) == terms


@pytest.mark.parametrize(
    "terms, matches",
    [
        ([], True),
        (["退款"], True),
        (["退款", "7"], True),
        (["退款", "发票"], False),
        (["APP"], True),
    ],
)
def test_faq_matches_every_word_in_question_or_answer(terms, matches):
    assert policy.faq_matches(terms, "可以退款吗？", "付款后 7 日内可申请。App 内也可以。") is matches


def test_fill_facts_uses_the_owners_values_and_leaves_unknown_braces():
    facts = {"REFUND_DAYS": 7, "INVOICE_CUTOFF": "次年 3 月 31 日"}
    assert (
        policy.fill_facts("{退款天数} 日内；截止{发票截止}；{未知}", facts)
        == "7 日内；截止次年 3 月 31 日；{未知}"
    )


def test_every_placeholder_names_a_site_fact():
    from cpe.support.selectors import faq_facts

    facts = faq_facts(None)
    assert set(policy.FAQ_FACTS.values()) <= set(facts)


def test_answered_notice_carries_no_learner_text():
    text = policy.answered_notice_text(42)
    assert "编号 42" in text and "我的提问" in text
    assert policy.answered_notice_text("7") == policy.ANSWERED_NOTICE.format(number=7)
