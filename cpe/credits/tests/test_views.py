"""Pages as a user uses them: 我的学时 and the dashboard (constant queries), certificates,
the verification page and the public query."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cpe.accounts.tests.factories import sign_in_learner
from cpe.credits.models import Certificate
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters
from cpe.orders.tests.factories import pay

pytestmark = pytest.mark.django_db
PW = "Zhang-san-2026"


def _passed(learner, year, n, hours=10, category="professional"):
    for i in range(n):
        c = make_course(
            year,
            f"{category[0].upper()}{len(Certificate.objects.all())}-{i}",
            category=category,
            hours=hours,
            chapters=1,
        )
        complete_chapters(learner, c)
        pass_course(learner, c)


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return len(ctx.captured_queries), resp


def test_year_page_and_dashboard_run_constant_queries(client, learner, year, paid, settings):
    sign_in_learner(client, learner)
    year_url, dash_url = reverse("credits:year", args=[2026]), reverse("accounts:dashboard")
    client.get(dash_url)  # the sign-in wrote the user row: this request reads it and caches it
    _passed(learner, year, 1)
    y1, _ = _count(client, year_url)
    d1, _ = _count(client, dash_url)
    _passed(learner, year, 5)
    _passed(learner, year, 4, category="public")
    from cpe.catalog.models import Product, TrainingYear

    ty = TrainingYear.objects.create(year=2027)
    Product.objects.create(code="2027-ANNUAL", title="2027", year=ty, price_fen=100)
    pay(learner, "2027-ANNUAL")
    y2, resp = _count(client, year_url)
    d2, dash = _count(client, dash_url)
    assert y1 == y2 and d1 == d2, (y1, y2, d1, d2)
    assert y2 <= 10 and d2 <= 10, (y2, d2)

    assert "我的学时" in dash.content.decode() and "2027 年度" in dash.content.decode()
    print(f"QUERIES year_page={y2} dashboard={d2}")


def test_year_page_shows_hours_planner_chart_and_certificates(client, learner, year, paid):
    _passed(learner, year, 1, hours=52)
    _passed(learner, year, 1, hours=26, category="public")
    sign_in_learner(client, learner)
    html = client.get(reverse("credits:year", args=[2026])).content.decode()
    assert "还需 12 学时，其中专业科目 8 学时" in html
    assert "78</strong> / 90 学时" in html and 'aria-valuenow="86"' in html and "<svg" in html
    assert html.count("合格证明</a>") == 2 and "下载 2026 年度学时证明" not in html
    _passed(learner, year, 1, hours=12)
    html = client.get(reverse("credits:year", args=[2026])).content.decode()
    assert "下载 2026 年度学时证明" in html and "本年度学时已达标" in html


def test_certificate_download_only_for_the_holder(client, learner, year, paid, register_learner):
    _passed(learner, year, 1, hours=90)
    cert = Certificate.objects.get(kind="year")
    url = reverse("credits:certificate_pdf", args=[cert.number])
    other = register_learner(name="王五")
    sign_in_learner(client, other)
    assert client.get(url).status_code == 404
    sign_in_learner(client, learner)
    resp = client.get(url)
    assert (
        resp.status_code == 200 and resp["Content-Type"] == "application/pdf" and resp.content[:4] == b"%PDF"
    )


def test_verify_page_masked_and_revoked(client, learner, year, paid):
    _passed(learner, year, 1, hours=24)
    cert = Certificate.objects.get(kind="course")
    html = client.get(reverse("credits:verify", args=[cert.number])).content.decode()
    assert "有效" in html and "张*" in html and "张三" not in html and "24 学时" in html
    from django.utils import timezone

    from cpe.credits.services import credits_revoke_for_order

    credits_revoke_for_order(order=paid, reason="订单退款", at=timezone.now())
    html = client.get(reverse("credits:verify", args=[cert.number.lower()])).content.decode()
    assert "已撤销" in html and "订单退款" in html
    assert client.get(reverse("credits:verify", args=["ZS2026-AAAA-BBBB-CCCC-DDDD"])).status_code == 404


def test_verify_after_the_holder_closed_the_account(client, learner, year, paid):
    """A closed (locked and archived) holder's certificate still verifies with the masked name it
    was issued to (not the placeholder, which made a genuine certificate look forged), and says
    that the holder closed the account; the full name is nowhere in the live rows."""
    from datetime import timedelta

    from django.utils import timezone

    from cpe.accounts import closing
    from cpe.accounts.models import User
    from cpe.learning.models import Enrolment

    _passed(learner, year, 1, hours=24)
    cert = Certificate.objects.get(kind="course")
    past = timezone.now() - timedelta(days=100)
    Enrolment.objects.filter(order=paid).update(valid_from=past, valid_until=past + timedelta(days=90))
    closing.account_close(user=User.objects.get(pk=learner.pk), password="Zhang-san-2026", confirmed=True)

    html = client.get(reverse("credits:verify", args=[cert.number])).content.decode()
    assert "有效" in html and "张*" in html and "24 学时" in html
    assert "已注销用户" not in html and "已*" not in html and "张三" not in html
    assert 'id="holder-closed"' in html and "注销本平台账号" in html
    cert.refresh_from_db()
    assert cert.holder_name == "张*"


def _query(client, id_number, name, captcha=None):
    page = client.get(reverse("credits:query")).content.decode()
    a, op, b = re.search(r'id="captcha-q">(\d+) ([+-]) (\d+) = \?', page).groups()
    answer = int(a) + int(b) if op == "+" else int(a) - int(b)
    return client.post(
        reverse("credits:query"),
        {"id_number": id_number, "name": name, "captcha": captcha if captcha is not None else answer},
    )


def _result(resp):
    html = resp.content.decode()
    m = re.search(r'<section class="card narrow" id="query-result".*?</section>', html, re.S)
    return m.group(0) if m else ""


def test_public_query(client, learner, year, paid, register_learner):
    _passed(learner, year, 1, hours=90)
    hit = _query(client, learner.id_number, "张三")
    assert hit.status_code == 200
    body = _result(hit)
    assert "张* 的学时记录" in body and "2026 年度" in body and "已完成" in body
    assert Certificate.objects.get(kind="year").number in body
    # A wrong name and an unknown ID number get the very same answer.
    miss_name = _result(_query(client, learner.id_number, "张四"))
    from cpe.accounts.tests.factories import make_id_number

    miss_id = _result(_query(client, make_id_number(seq="999"), "张三"))
    assert miss_name == miss_id and "未查询到" in miss_name
    # A wrong captcha: no search at all.
    bad = _query(client, learner.id_number, "张三", captcha="999")
    assert bad.status_code == 400 and "验证码不正确" in bad.content.decode() and not _result(bad)


@pytest.mark.parametrize("status", ["closed", "terminated"])
def test_public_query_never_finds_locked_or_terminated(client, learner, year, paid, status):
    _passed(learner, year, 1, hours=24)
    type(learner).objects.filter(pk=learner.pk).update(status=status, is_active=False)
    assert "未查询到" in _result(_query(client, learner.id_number, "张三"))


def test_public_query_is_throttled_with_429(client, learner):
    # "999" is never an answer (the questions are a ± b with a ≤ 19, b ≤ 9); "0" sometimes was.
    codes = [_query(client, learner.id_number, "张三", captcha="999").status_code for _ in range(6)]
    assert codes[:5] == [400] * 5 and codes[5] == 429


def test_public_query_page_has_labels(client):
    html = client.get(reverse("credits:query")).content.decode()
    for label in ("身份证号码", "姓名", "验证码（计算结果）"):
        assert f">{label}</label>" in html
