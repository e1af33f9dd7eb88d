"""Services on a real database: what changes, and what does not when an action is refused."""

import pytest

from cpe.core.models import AuditEvent
from cpe.notices.models import Channel, OutboundMessage
from cpe.support import policy, services
from cpe.support.errors import SupportError
from cpe.support.models import Message, Thread
from cpe.support.states import ThreadStatus

pytestmark = pytest.mark.django_db


def _ask(user, title="发票怎么开具", body="我上周买的课程，在哪里申请发票？", **kw):
    return services.thread_ask(user=user, title=title, body=body, **kw)


def _snapshot():
    return (
        Thread.objects.count(),
        Message.objects.count(),
        OutboundMessage.objects.count(),
        AuditEvent.objects.count(),
        list(Thread.objects.values_list("id", "status", "last_message_at")),
    )


def test_ask_creates_a_waiting_thread_with_the_question(learner):
    t = _ask(learner, category="invoice")
    assert t.status == ThreadStatus.WAITING and t.user == learner and t.category == "invoice"
    assert [(m.body, m.from_staff, m.author_id) for m in t.messages.all()] == [
        ("我上周买的课程，在哪里申请发票？", False, learner.pk)
    ]


@pytest.mark.parametrize(
    "kw, field, text",
    [
        ({"title": ""}, "title", "请填写标题"),
        ({"title": "题" * (policy.TITLE_MAX_CHARS + 1)}, "title", f"最多 {policy.TITLE_MAX_CHARS} 个字"),
        ({"body": "  "}, "body", "请填写问题描述"),
        ({"body": "长" * (policy.BODY_MAX_CHARS + 1)}, "body", f"最多 {policy.BODY_MAX_CHARS} 个字"),
        ({"category": "nonsense"}, "category", "请选择列表中的分类"),
    ],
)
def test_bad_question_is_refused_and_saves_nothing(learner, kw, field, text):
    before = _snapshot()
    with pytest.raises(SupportError) as exc:
        _ask(learner, **kw)
    assert exc.value.field == field and text in exc.value.message
    assert _snapshot() == before


def test_at_most_n_waiting_questions_then_answered_ones_free_a_place(learner, operator):
    threads = [_ask(learner, title=f"问题编号 {i}") for i in range(policy.MAX_WAITING_THREADS)]
    before = _snapshot()
    with pytest.raises(SupportError) as exc:
        _ask(learner, title="再问一个问题")
    assert exc.value.code == "too_many_waiting" and "等待回复" in exc.value.message
    assert _snapshot() == before
    services.thread_answer(staff=operator, thread_id=threads[0].pk, body="已为您处理，请查看。")
    assert _ask(learner, title="再问一个问题").status == ThreadStatus.WAITING


def test_staff_answer_notifies_the_learner_through_the_outbox_and_is_audited(learner, operator):
    t = _ask(learner)
    services.thread_answer(
        staff=operator, thread_id=t.pk, body="请在“我的发票”中点击申请开票。", ip="10.0.0.5"
    )
    t.refresh_from_db()
    assert t.status == ThreadStatus.ANSWERED
    assert [(m.from_staff, m.body) for m in t.messages.all()][-1] == (True, "请在“我的发票”中点击申请开票。")
    sent = {m.channel: m for m in OutboundMessage.objects.filter(event="support.answered")}
    assert set(sent) == {Channel.SMS, Channel.EMAIL}
    assert sent[Channel.SMS].to == learner.mobile and sent[Channel.SMS].user == learner
    assert f"编号 {t.pk}" in sent[Channel.SMS].body and "我的提问" in sent[Channel.SMS].body
    assert sent[Channel.EMAIL].to == learner.email
    ev = AuditEvent.objects.get(event_type="support.answered")
    assert (ev.actor_id, ev.subject_id, ev.ip) == (operator.pk, str(t.pk), "10.0.0.5")


def test_unverified_email_gets_only_the_sms(other_learner, operator):
    t = _ask(other_learner)
    services.thread_answer(staff=operator, thread_id=t.pk, body="请在“我的发票”中申请。")
    assert list(
        OutboundMessage.objects.filter(event="support.answered").values_list("channel", flat=True)
    ) == [Channel.SMS]


def test_follow_up_reopens_an_answered_thread(learner, operator):
    t = _ask(learner)
    services.thread_answer(staff=operator, thread_id=t.pk, body="请在“我的发票”中申请。")
    services.thread_follow_up(user=learner, thread_id=t.pk, body="找到了，但提示已过截止时间。")
    t.refresh_from_db()
    assert t.status == ThreadStatus.WAITING and t.messages.count() == 3


def test_close_blocks_follow_ups_and_answers_and_is_audited(learner, operator):
    t = _ask(learner)
    services.thread_close(staff=operator, thread_id=t.pk)
    t.refresh_from_db()
    assert t.status == ThreadStatus.CLOSED and t.closed_by == operator and t.closed_at is not None
    assert AuditEvent.objects.filter(event_type="support.closed", subject_id=str(t.pk)).count() == 1
    before = _snapshot()
    with pytest.raises(SupportError) as exc:
        services.thread_follow_up(user=learner, thread_id=t.pk, body="还有一个问题想问一下")
    assert exc.value.code == "closed" and "已关闭" in exc.value.message
    with pytest.raises(SupportError):
        services.thread_answer(staff=operator, thread_id=t.pk, body="补充一下刚才的回复")
    with pytest.raises(SupportError):
        services.thread_close(staff=operator, thread_id=t.pk)
    assert _snapshot() == before


def test_another_learner_cannot_follow_up(learner, other_learner):
    t = _ask(learner)
    before = _snapshot()
    with pytest.raises(SupportError) as exc:
        services.thread_follow_up(user=other_learner, thread_id=t.pk, body="我也想问这个问题")
    assert exc.value.code == "no_thread"
    assert _snapshot() == before


def test_only_staff_answer_and_close(learner, other_learner):
    t = _ask(learner)
    before = _snapshot()
    for call in (
        lambda: services.thread_answer(staff=other_learner, thread_id=t.pk, body="冒充客服的回复"),
        lambda: services.thread_close(staff=other_learner, thread_id=t.pk),
    ):
        with pytest.raises(SupportError):
            call()
    assert _snapshot() == before


def test_empty_answer_saves_nothing(learner, operator):
    t = _ask(learner)
    before = _snapshot()
    with pytest.raises(SupportError) as exc:
        services.thread_answer(staff=operator, thread_id=t.pk, body="   ")
    assert exc.value.field == "body" and "请填写回复内容" in exc.value.message
    assert _snapshot() == before


def test_the_platforms_notice_never_carries_the_learners_title(learner, operator):
    """A title is the learner's text: sent under the platform's signature it would let anyone
    make the platform text a phone whatever they like (a link, a number to call)."""
    t = _ask(learner, title="中奖请访问 evil.example 领取")
    services.thread_answer(staff=operator, thread_id=t.pk, body="请勿轻信此类信息。")
    sent = list(OutboundMessage.objects.filter(event="support.answered"))
    assert {m.channel for m in sent} == {Channel.SMS, Channel.EMAIL}
    for m in sent:
        assert "evil" not in m.body and "中奖" not in m.body and "evil" not in (m.subject or "")
        assert f"编号 {t.pk}" in m.body
