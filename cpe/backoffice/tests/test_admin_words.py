"""What a screen reader reads on the staff site is Chinese: Django's zh-Hans catalogue leaves the
visually hidden headers of the navigation tables (app_list.html) in English."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ENGLISH_HEADERS = ("Model name", "Add link", "Change or view list link")


def _hidden_text(html: str) -> list[str]:
    """The text of every element with class visually-hidden (one level: th, span, thead)."""
    found = []
    for m in re.finditer(r'class="visually-hidden[^"]*"[^>]*>(.*?)</(thead|span|h2|label|div)>', html, re.S):
        found.append(re.sub(r"<[^>]+>", " ", m.group(1)))
    return found


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:index"),
        reverse("admin:orders_refund_changelist"),
        reverse("admin:app_list", args=["orders"]),
    ],
)
def test_the_navigation_tables_hidden_headers_are_chinese(client, admin_user, url):
    client.force_login(admin_user)
    html = client.get(url).content.decode()
    assert "模型名称" in html and "增加链接" in html
    for english in ENGLISH_HEADERS:
        assert english not in html, english
    for text in _hidden_text(html):
        assert not re.search(r"[A-Za-z]{3,}", text), text
