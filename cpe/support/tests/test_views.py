"""Pages as a learner, a stranger and staff use them."""

import pytest
from django.urls import reverse

from cpe.notices.models import OutboundMessage
from cpe.support import policy, services
from cpe.support.demo import seed_faq
from cpe.support.models import FaqEntry, Message, Thread
from cpe.support.selectors import faq_facts
from cpe.support.states import ThreadStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def faq(db):
    seed_faq()
    FaqEntry.objects.create(question="草稿：尚未发布的问题", answer="草稿内容", is_published=False)


def test_faq_lists_published_entries_with_numbers_from_the_policies(client, faq):
    html = client.get(reverse("support:faq")).content.decode()
    facts = faq_facts(None)
    assert "如何购买课程？" in html and "草稿" not in html
    assert f"付款后 {facts['REFUND_DAYS']} 日内" in html and facts["INVOICE_CUTOFF"] in html
    assert "{退款天数}" not in html and "{发票截止}" not in html
    assert 'label for="id_q"' in html


def test_faq_search_matches_question_or_answer(client, faq):
    html = client.get(reverse("support:faq"), {"q": "发票"}).content.decode()
    assert "发票最晚什么时候开具？" in html and "忘记密码怎么办？" not in html
    # A word of the answer as shown (the filled-in number) finds it too.
    days = faq_facts(None)["REFUND_DAYS"]
    html = client.get(reverse("support:faq"), {"q": f"退款 {days}×24"}).content.decode()
    assert "可以退款吗？退款规则是什么？" in html and "如何购买课程？" not in html


def test_faq_search_without_match_says_so_and_links_to_asking(client, faq):
    html = client.get(reverse("support:faq"), {"q": "火星移民"}).content.decode()
    assert "没有找到相关问题" in html and reverse("support:ask") in html
    assert "如何购买课程？" not in html


def test_asking_needs_sign_in_and_staff_are_sent_to_the_staff_site(client, operator):
    for name in ("support:ask", "support:mine"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    client.force_login(operator)
    assert client.get(reverse("support:ask"))["Location"] == reverse("admin:index")


def test_learner_asks_sees_it_in_my_questions_and_follows_up(client, learner):
    client.force_login(learner)
    r = client.post(
        reverse("support:ask"),
        {"title": "学时什么时候上报", "category": "credits", "body": "考试通过三天了，学时还没有显示。"},
    )
    t = Thread.objects.get(user=learner)
    assert r.status_code == 302 and r["Location"] == reverse("support:thread", args=[t.pk])
    html = client.get(reverse("support:mine")).content.decode()
    assert "学时什么时候上报" in html and "待回复" in html
    r = client.post(reverse("support:thread", args=[t.pk]), {"body": "补充：准考证号 123。"})
    assert r.status_code == 302
    html = client.get(reverse("support:thread", args=[t.pk])).content.decode()
    assert "考试通过三天了" in html and "补充：准考证号 123。" in html


def test_bad_question_shows_chinese_error_next_to_the_field_and_saves_nothing(client, learner):
    client.force_login(learner)
    r = client.post(reverse("support:ask"), {"title": "学时上报", "body": "长" * (policy.BODY_MAX_CHARS + 1)})
    html = r.content.decode()
    assert (
        r.status_code == 400 and f"最多 {policy.BODY_MAX_CHARS} 个字" in html and 'id="id_body-error"' in html
    )
    r = client.post(reverse("support:ask"), {"title": "", "body": ""})
    assert r.status_code == 400 and "请填写标题。" in r.content.decode()
    assert Thread.objects.count() == 0 and Message.objects.count() == 0


def test_another_learners_thread_is_404_to_read_and_to_post(client, learner, other_learner):
    t = services.thread_ask(user=learner, title="发票怎么开具", body="在哪里申请发票？")
    client.force_login(other_learner)
    assert client.get(reverse("support:thread", args=[t.pk])).status_code == 404
    assert client.post(reverse("support:thread", args=[t.pk]), {"body": "我也想知道答案"}).status_code == 404
    assert Message.objects.filter(thread=t).count() == 1
    assert "发票怎么开具" not in client.get(reverse("support:mine")).content.decode()


def test_closed_thread_shows_no_form_and_refuses_a_post(client, learner, operator):
    t = services.thread_ask(user=learner, title="发票怎么开具", body="在哪里申请发票？")
    services.thread_close(staff=operator, thread_id=t.pk)
    client.force_login(learner)
    html = client.get(reverse("support:thread", args=[t.pk])).content.decode()
    assert "已关闭" in html and "提交补充" not in html
    r = client.post(reverse("support:thread", args=[t.pk]), {"body": "还想再问一下"})
    assert r.status_code == 400 and "已关闭" in r.content.decode()
    assert Message.objects.filter(thread=t).count() == 1


def test_posting_is_rate_limited_with_429_and_nothing_saved(client, learner):
    client.force_login(learner)
    t = services.thread_ask(user=learner, title="发票怎么开具", body="在哪里申请发票？")
    limit = int(policy.POST_RATE.split("/")[0])
    codes = [
        client.post(reverse("support:thread", args=[t.pk]), {"body": f"第 {i} 次补充说明"}).status_code
        for i in range(limit + 1)
    ]
    assert codes[:limit] == [302] * limit and codes[limit] == 429
    assert Message.objects.filter(thread=t).count() == 1 + limit
    r = client.post(reverse("support:ask"), {"title": "另一个问题", "body": "这是另一个问题的内容。"})
    assert r.status_code == 429 and "过于频繁" in r.content.decode()
    assert Thread.objects.count() == 1


def test_operator_answers_and_closes_in_the_staff_site(client, learner, operator):
    t = services.thread_ask(user=learner, title="发票怎么开具", body="在哪里申请发票？")
    client.force_login(operator)
    url = reverse("admin:support_thread_change", args=[t.pk])
    html = client.get(url).content.decode()
    assert "在哪里申请发票？" in html and "回复学员" in html
    r = client.post(
        url,
        {
            "reply": "请在“我的发票”中申请。",
            "messages-TOTAL_FORMS": "1",
            "messages-INITIAL_FORMS": "1",
            "messages-MIN_NUM_FORMS": "0",
            "messages-MAX_NUM_FORMS": "1000",
            "messages-0-id": str(t.messages.get().pk),
            "messages-0-thread": str(t.pk),
        },
    )
    assert r.status_code == 302
    t.refresh_from_db()
    assert t.status == ThreadStatus.ANSWERED
    assert OutboundMessage.objects.filter(event="support.answered", user=learner).exists()
    client.post(
        url,
        {
            "close": "on",
            "messages-TOTAL_FORMS": "2",
            "messages-INITIAL_FORMS": "2",
            "messages-MIN_NUM_FORMS": "0",
            "messages-MAX_NUM_FORMS": "1000",
            **{f"messages-{i}-id": str(m.pk) for i, m in enumerate(t.messages.all())},
            **{f"messages-{i}-thread": str(t.pk) for i in range(2)},
        },
    )
    t.refresh_from_db()
    assert t.status == ThreadStatus.CLOSED
    client.force_login(learner)
    assert "请在“我的发票”中申请。" in client.get(reverse("support:thread", args=[t.pk])).content.decode()


def test_auditor_reads_threads_but_cannot_answer(client, learner):
    from django.contrib.auth.models import Group

    from cpe.accounts.models import User
    from cpe.backoffice.services import roles_sync

    roles_sync()
    auditor = User.objects.create_user("aud1", "houtai-test-1", name="审计", is_staff=True)
    auditor.groups.add(Group.objects.get(name="审计人员"))
    t = services.thread_ask(user=learner, title="发票怎么开具", body="在哪里申请发票？")
    client.force_login(auditor)
    url = reverse("admin:support_thread_change", args=[t.pk])
    r = client.get(url)
    assert (
        r.status_code == 200
        and "在哪里申请发票？" in r.content.decode()
        and "回复学员" not in r.content.decode()
    )
    assert client.post(url, {"reply": "审计人员的回复"}).status_code == 403
    assert client.get(reverse("admin:support_faqentry_add")).status_code == 403
    t.refresh_from_db()
    assert t.status == ThreadStatus.WAITING and t.messages.count() == 1
