"""Support rules (rules R13: 自主答疑 and 在线交互, agreement §2.6). Pure functions: no ORM, no clock."""

import re
from dataclasses import dataclass

from .states import TRANSITIONS, ThreadEvent, ThreadStatus

# Lengths of what a learner (or staff) writes. A question is read by a person: a title that
# fits a list line, a body long enough for a real question and short enough to be read.
TITLE_MIN_CHARS = 4
TITLE_MAX_CHARS = 60
BODY_MIN_CHARS = 5
BODY_MAX_CHARS = 2000
# A learner may have this many questions waiting for a reply (待回复) at once: the queue stays
# answerable and one person cannot flood it. Answered and closed questions do not count.
MAX_WAITING_THREADS = 3
# Posting (questions and follow-ups together), per learner: django-ratelimit rate string.
POST_RATE = "10/h"
# The FAQ search box: longer input is cut, at most this many words must all match.
FAQ_QUERY_MAX_CHARS = 50
FAQ_QUERY_MAX_TERMS = 5

# FAQ answers name the platform's numbers by placeholder, filled at display time from the
# policies that own them (through their apps' context processors, selectors.faq_facts), so an
# answer never goes stale when the refund window or the invoice cutoff changes:
# {placeholder} -> context key.
FAQ_FACTS = {
    "退款天数": "REFUND_DAYS",
    "发票截止": "INVOICE_CUTOFF",
    "支付时限分钟": "ORDER_PAY_MINUTES",
    "客服电话": "SUPPORT_PHONE",
    "客服邮箱": "SUPPORT_EMAIL",
}


# What the platform sends in its own name (SMS under its signature, e-mail) when staff answer.
# Never the learner's own words (the title): a message signed by the platform must carry only
# the platform's text, or anyone could make it send theirs (a link, a phone number to call) to
# a phone; the question is named by its number, shown on the learner's "我的提问" page.
ANSWERED_NOTICE = "您在平台提出的问题（编号 {number}）已有客服回复，请登录平台在“我的提问”中查看。"


def answered_notice_text(thread_number: int) -> str:
    """The notice of a staff answer (rules R13 notifications): the platform's words and the
    question's number only, nothing the learner wrote."""
    return ANSWERED_NOTICE.format(number=int(thread_number))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""
    message: str = ""


OK = Decision(True)


def check_text(text: str, *, label: str, min_chars: int, max_chars: int) -> Decision:
    """A title or body: required, trimmed, within [min_chars, max_chars] characters."""
    n = len((text or "").strip())
    if n == 0:
        return Decision(False, "required", f"请填写{label}。")
    if n < min_chars:
        return Decision(False, "too_short", f"{label}至少 {min_chars} 个字，请写清楚您的问题。")
    if n > max_chars:
        return Decision(False, "too_long", f"{label}最多 {max_chars} 个字（现在 {n} 个字）。")
    return OK


def check_title(title: str) -> Decision:
    return check_text(title, label="标题", min_chars=TITLE_MIN_CHARS, max_chars=TITLE_MAX_CHARS)


def check_body(body: str, label: str = "问题描述") -> Decision:
    return check_text(body, label=label, min_chars=BODY_MIN_CHARS, max_chars=BODY_MAX_CHARS)


def ask_decision(waiting_count: int) -> Decision:
    """A learner may ask a new question while fewer than MAX_WAITING_THREADS of theirs wait
    for a reply (rules R13; the queue's fairness)."""
    if waiting_count >= MAX_WAITING_THREADS:
        return Decision(
            False,
            "too_many_waiting",
            f"您已有 {waiting_count} 个问题等待回复（最多 {MAX_WAITING_THREADS} 个），"
            "请等客服回复后再提新问题，或在原问题中补充说明。",
        )
    return OK


def next_status(status: str, event: str) -> str | None:
    """The thread's status after `event`, or None if the move is not allowed (states.TRANSITIONS)."""
    return TRANSITIONS.get((ThreadStatus(status), ThreadEvent(event)))


def move_decision(status: str, event: str) -> Decision:
    """Follow-ups and answers only on a thread that is not closed; a closed thread stays closed."""
    if next_status(status, event) is not None:
        return OK
    if status == ThreadStatus.CLOSED:
        return Decision(False, "closed", "该问题已关闭，不能再回复。如有新问题，请重新提问。")
    return Decision(False, "not_allowed", "当前状态下不能进行该操作。")


def faq_terms(query: str) -> list[str]:
    """The words of a search: cut to FAQ_QUERY_MAX_CHARS, split on blanks and punctuation,
    case-folded, at most FAQ_QUERY_MAX_TERMS distinct words."""
    words = re.split(r"[\s,，。？?！!、;；:：]+", (query or "")[:FAQ_QUERY_MAX_CHARS].casefold())
    terms: list[str] = []
    for w in words:
        if w and w not in terms:
            terms.append(w)
    return terms[:FAQ_QUERY_MAX_TERMS]


def faq_matches(terms: list[str], question: str, answer: str) -> bool:
    """An entry matches when every word occurs in its question or its answer (as shown)."""
    text = f"{question}\n{answer}".casefold()
    return all(t.casefold() in text for t in terms)


def fill_facts(text: str, facts: dict) -> str:
    """Replace each {placeholder} of FAQ_FACTS with the value the owning policy gives today;
    anything else in braces is left as written."""

    def _sub(m: re.Match[str]) -> str:
        key = FAQ_FACTS.get(m.group(1))
        return str(facts[key]) if key is not None and key in facts else m.group(0)

    return re.sub(r"\{([^{}]{1,20})\}", _sub, text or "")
