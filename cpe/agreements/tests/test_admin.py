"""A new agreement version starts from the text in force, and is published only after its
difference from that text and a preview of exactly what is published were shown."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from cpe.agreements.models import AgreementVersion

pytestmark = pytest.mark.django_db

NEW_BODY = "第一条 测试协议正文。\n第二条 退款须在付款后 7 日内申请。"


@pytest.fixture
def operator(agreement_v1, django_user_model):
    from cpe.backoffice.services import roles_sync

    roles_sync()
    user = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    user.groups.add(Group.objects.get(name="运营人员"))
    c = Client()
    c.force_login(user)
    return c


def _form(**over):
    data = {
        "version": "2.0",
        "title": "用户服务协议与隐私政策",
        "body": NEW_BODY,
        "summary": "新增退款条款",
        "effective_at_0": "2030-01-01",
        "effective_at_1": "00:00:00",
    }
    data.update(over)
    return data


def test_add_starts_from_the_text_in_force(operator):
    page = operator.get(reverse("admin:agreements_agreementversion_add")).content.decode()
    assert "第一条 测试协议正文。</textarea>" in page and 'value="用户服务协议与隐私政策"' in page


def test_publish_needs_the_difference_and_preview_first(operator, agreement_v1):
    url = reverse("admin:agreements_agreementversion_add")
    first = operator.post(url, _form())
    html = first.content.decode()
    assert first.status_code == 200 and "请先核对下方与现行版本的差异和预览" in html
    assert AgreementVersion.objects.count() == 1  # nothing published yet
    diff = html[html.index('id="agreement-diff"') : html.index('id="agreement-preview"')]
    assert 'class="diff-same"' in diff and "第一条 测试协议正文。" in diff
    assert 'class="diff-added"' in diff and "第二条 退款须在付款后 7 日内申请。" in diff
    assert "<p>第一条 测试协议正文。<br>第二条 退款须在付款后 7 日内申请。</p>" in html  # the preview
    token = html.split('name="preview_token" value="')[1].split('"')[0]
    # A body changed after the preview is not what was previewed: shown again, not published.
    again = operator.post(url, _form(body=NEW_BODY + "\n第三条 未经预览。", preview_token=token))
    assert again.status_code == 200 and AgreementVersion.objects.count() == 1
    assert "第三条 未经预览。" in again.content.decode()
    published = operator.post(url, _form(preview_token=token))
    assert published.status_code == 302
    v2 = AgreementVersion.objects.get(version="2.0")
    assert v2.body == NEW_BODY and v2.published_at is not None


def test_unchanged_runs_are_folded():
    from cpe.agreements.admin import text_diff

    old = "\n".join(f"第{i}条" for i in range(1, 11))
    new = old.replace("第5条", "第5条（修改）")
    assert text_diff(old, new) == [
        ("folded", "……（3 行未改动）"),
        ("same", "第4条"),
        ("removed", "第5条"),
        ("added", "第5条（修改）"),
        ("same", "第6条"),
        ("folded", "……（4 行未改动）"),
    ]
    assert text_diff("", "新") == [("added", "新")]
