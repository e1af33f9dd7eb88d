"""Every link in an SMS or e-mail is absolute (built from SITE_URL by core.documents.absolute_url):
message_queue refuses a body with a bare path, so every test in the suite that sends a message
checks its links; the table below pins what counts as a bare path."""

import pytest

from cpe.notices import policy
from cpe.notices.models import Channel, OutboundMessage
from cpe.notices.services import message_queue


@pytest.mark.parametrize(
    "body,bare",
    [
        (
            "请打开以下链接验证电子邮箱：\n/accounts/email/confirm/12/abc-DEF/\n",
            ["/accounts/email/confirm/12/abc-DEF/"],
        ),
        ("请打开以下链接验证电子邮箱：/accounts/email/confirm/12/abc/", ["/accounts/email/confirm/12/abc/"]),
        ("登录后在 /invoices/ 下载", ["/invoices/"]),
        ("查看：（/orders/CPE1/result/?a=1&b=2）", ["/orders/CPE1/result/?a=1&b=2"]),
        ("请打开 https://cpe.example.cn/accounts/email/confirm/12/abc/ 验证", []),
        ("http://127.0.0.1:8000/invoices/", []),
        ("2026/12/31 前完成；学时/年；1/2；A/B；www.example.cn/x", []),
        ("验证码 123456，5 分钟内有效。", []),
    ],
)
def test_relative_links_table(body, bare):
    assert policy.relative_links(body) == bare


@pytest.mark.django_db
def test_a_message_with_a_bare_path_is_refused_and_nothing_is_queued():
    with pytest.raises(ValueError, match="absolute"):
        message_queue(
            channel=Channel.EMAIL,
            to="a@example.com",
            event="test.bare",
            subject="x",
            body="请打开以下链接：/accounts/email/confirm/1/t/",
        )
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_email_verification_link_is_absolute_from_site_url(register_learner, settings):
    from cpe.accounts import services

    settings.SITE_URL = "https://cpe.example.cn/"
    user = register_learner()
    services.email_change_request(user=user, new_email="new@example.com")
    body = OutboundMessage.objects.filter(event="email.verify").order_by("-id").first().body
    assert "https://cpe.example.cn/accounts/email/confirm/" in body
    assert policy.relative_links(body) == []
