"""The player's API and the learner pages as a browser would use them."""

from datetime import timedelta

import pytest
from django.test import Client

from cpe.learning.models import ChapterProgress

pytestmark = pytest.mark.django_db
J = "application/json"


def _start(client, chapter):
    return client.post("/api/learning/sessions", {"chapter_id": chapter.pk}, content_type=J)


def test_api_start_heartbeat_end(signed_in, chapter, enrolment):
    r = _start(signed_in, chapter)
    assert r.status_code == 201
    body = r.json()
    assert body["heartbeat_seconds"] == 30 and body["resume_at"] == 0 and body["duration"] == 120
    key = body["session"]
    hb = signed_in.post(
        f"/api/learning/sessions/{key}/heartbeat", {"seq": 1, "start": 0, "position": 5}, content_type=J
    )
    assert hb.status_code == 200 and hb.json()["credited"] <= 5  # judged by the server's clock
    bad = signed_in.post(
        f"/api/learning/sessions/{key}/heartbeat", {"seq": 0, "start": -1, "position": 5}, content_type=J
    )
    assert bad.status_code == 422
    assert (
        signed_in.post(f"/api/learning/sessions/{key}/attention", {"token": "x"}, content_type=J).json()[
            "code"
        ]
        == "no_check"
    )
    assert signed_in.post(f"/api/learning/sessions/{key}/end", content_type=J).status_code == 200
    gone = signed_in.post(
        f"/api/learning/sessions/{key}/heartbeat", {"seq": 2, "start": 5, "position": 6}, content_type=J
    )
    assert gone.status_code == 409 and gone.json()["code"] == "ended"


def test_api_refusals(signed_in, chapter, enrolment, other_learner):
    assert (
        Client().post("/api/learning/sessions", {"chapter_id": chapter.pk}, content_type=J).status_code == 401
    )
    key = _start(signed_in, chapter).json()["session"]
    other = Client()
    other.force_login(other_learner)
    r = other.post(
        f"/api/learning/sessions/{key}/heartbeat", {"seq": 1, "start": 0, "position": 5}, content_type=J
    )
    assert r.status_code == 404 and r.json()["code"] == "no_session"
    r = _start(other, chapter)
    assert r.status_code == 403 and r.json() == {
        "code": "not_enrolled",
        "message": "您尚未购买包含本章节的课程，请先选课购买。",
    }
    _start(signed_in, chapter)  # a second player
    r = signed_in.post(
        f"/api/learning/sessions/{key}/heartbeat", {"seq": 1, "start": 0, "position": 5}, content_type=J
    )
    assert r.status_code == 409 and r.json()["code"] == "superseded"
    assert _start(signed_in, type(chapter)(pk=99999)).status_code == 404
    type(enrolment).objects.filter(pk=enrolment.pk).update(status="closed")
    r = _start(signed_in, chapter)
    assert r.status_code == 403 and r.json()["code"] == "closed"


def test_api_needs_csrf(learner, chapter, enrolment):
    from cpe.accounts.models import User
    from cpe.core.crypto import blind_index

    c = Client(enforce_csrf_checks=True)
    c.force_login(learner)
    User.objects.filter(pk=learner.pk).update(
        session_key_hash=blind_index("session_key", c.session.session_key)
    )
    assert _start(c, chapter).status_code == 403


def test_openapi_declares_every_status(client):
    schema = client.get("/api/openapi.json").json()
    paths = {p: v for p, v in schema["paths"].items() if p.startswith("/api/learning/")}
    assert len(paths) == 4
    for path, ops in paths.items():
        codes = set(ops["post"]["responses"])
        assert {"401", "403", "404", "409"} <= codes, path


def test_course_page_and_player(signed_in, chapter, enrolment, learner):
    ChapterProgress.objects.create(user=learner, chapter=chapter, intervals=[[0, 60]], watched_seconds=60)
    r = signed_in.get(f"/learn/course/{chapter.course_id}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert (
        "收入准则" in html
        and "已观看 50%" in html
        and '已完成章节 <strong id="course-done">0</strong> / 1' in html
    )
    r = signed_in.get(f"/learn/chapter/{chapter.pk}/")
    assert r.status_code == 200 and "视频正在准备中" in r.content.decode()  # no video uploaded yet


def test_pages_refuse_expired_and_not_enrolled(signed_in, chapter, enrolment, other_learner):
    # Long over (timedeltas, not replace(year=...): a leap day has no 29 February in 1999).
    type(enrolment).objects.filter(pk=enrolment.pk).update(
        valid_until=enrolment.valid_from - timedelta(days=300),
        valid_from=enrolment.valid_from - timedelta(days=400),
    )
    r = signed_in.get(f"/learn/chapter/{chapter.pk}/")
    assert r.status_code == 403 and "超过有效期" in r.content.decode() and "重新购买" in r.content.decode()
    other = Client()
    other.force_login(other_learner)
    assert other.get(f"/learn/course/{chapter.course_id}/").status_code == 403
    assert Client().get(f"/learn/chapter/{chapter.pk}/").status_code == 302  # to sign-in


def test_expired_course_offers_rebuying_only_while_the_product_is_on_sale(signed_in, chapter, enrolment):
    """refused.html's 重新购买 follows orders.services.purchase_check, the rule of the buy page
    and the order list: a closed year's product is not offered again."""
    type(enrolment).objects.filter(pk=enrolment.pk).update(
        valid_until=enrolment.valid_from - timedelta(days=300),
        valid_from=enrolment.valid_from - timedelta(days=400),
    )
    year = enrolment.product.year
    type(year).objects.filter(pk=year.pk).update(is_open=False)
    html = signed_in.get(f"/learn/chapter/{chapter.pk}/").content.decode()
    assert "超过有效期" in html and "重新购买" not in html
    assert "该课程目前不在售。" in html and "去选课" in html
