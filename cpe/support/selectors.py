"""Reads of the support app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import HttpRequest

from cpe.core.context_processors import site
from cpe.invoicing.context_processors import invoicing
from cpe.orders.context_processors import orders

from . import policy
from .models import Category, FaqEntry, Thread

if TYPE_CHECKING:
    from cpe.accounts.models import User


def faq_facts(request: HttpRequest) -> dict:
    """The platform's facts an FAQ answer may name by placeholder (policy.FAQ_FACTS), from the
    context processors of the apps that own them."""
    return {**site(request), **orders(request), **invoicing(request)}


@dataclass
class FaqItem:
    id: int
    question: str
    answer: str


@dataclass
class FaqGroup:
    category: str
    label: str
    items: list


def faq_search(query: str, facts: dict) -> list[FaqGroup]:
    """Published entries by category, their placeholders filled, filtered by every word of
    `query` in the question or the answer as shown. The FAQ is a few dozen rows: matching in
    Python on the text as displayed behaves the same on SQLite and PostgreSQL."""
    terms = policy.faq_terms(query)
    groups: dict[str, FaqGroup] = {}
    labels = dict(Category.choices)
    for e in FaqEntry.objects.filter(is_published=True).order_by("category", "position", "id"):
        answer = policy.fill_facts(e.answer, facts)
        question = policy.fill_facts(e.question, facts)
        if terms and not policy.faq_matches(terms, question, answer):
            continue
        group = groups.setdefault(e.category, FaqGroup(e.category, labels.get(e.category, e.category), []))
        group.items.append(FaqItem(e.pk, question, answer))
    order = {c: i for i, c in enumerate(Category.values)}
    return sorted(groups.values(), key=lambda g: order.get(g.category, len(order)))


def threads_of(user: User) -> QuerySet[Thread]:
    return Thread.objects.filter(user=user).order_by("-last_message_at", "-id")


def thread_of(user: User, thread_id: int) -> Thread | None:
    """The learner's own thread with its messages, or None (another learner's is never found)."""
    return Thread.objects.filter(user=user, pk=thread_id).prefetch_related("messages").first()
