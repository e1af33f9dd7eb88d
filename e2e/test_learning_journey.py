"""The learning journey in a real browser (rules R7): a learner with a paid annual course plays a
real AES-128 HLS chapter (made by ffmpeg from its test sources) until the server marks it
complete; seeking back up to the furthest point played is allowed, a seek past it returns and
says why, and a fabricated heartbeat earns nothing; a second tab takes over midway: the first
keeps what it played until then, stops and says why, the second completes the chapter."""

import re
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cpe.backoffice.demo import DEMO_LEARNER_PASSWORD as LEARNER_PASSWORD
from cpe.backoffice.demo import annual_code, course_code
from cpe.catalog.tests.factories import this_year

PHONE = (375, 812)


H264 = 'video/mp4; codecs="avc1.4d401f,mp4a.40.2"'


def _pay(user, product_code):
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.services import order_create, payment_confirm

    order = order_create(user=user, product_code=product_code, ais_confirmed=True)
    payment_confirm(
        gateway_name="alipay",
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="T" + order.number,
            amount_fen=order.amount_fen,
            paid_at=timezone.now() - timedelta(minutes=1),
        ),
    )


def _sign_in(page, identifier, password):
    page.goto("/accounts/login/")
    page.get_by_label("身份证号码或手机号码", exact=True).fill(identifier)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))


def _play(page):
    # Headless Chromium has no user gesture: muted playback is allowed to start from script.
    # The page says 点击播放 only once hls.js has parsed the playlist on its attached MediaSource
    # (player.js, MANIFEST_PARSED), so one play() is enough, as one tap is for a learner.
    # play() settles when playback starts; never wait on it for long (a player that has stopped
    # the stream leaves it pending), the test's own expectations wait instead.
    page.evaluate("""async () => {
        const v = document.getElementById('video');
        v.muted = true;
        await Promise.race([v.play(), new Promise(r => setTimeout(r, 5000))]);
    }""")


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_learning_journey(new_page, screenshot, demo_accounts, settings, tmp_path):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.learning.demo import make_demo_video
    from cpe.learning.models import ChapterProgress, PlaySession, SuspiciousEvent

    settings.LEARNING_HEARTBEAT_SECONDS = 2
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    course = Course.objects.get(code=course_code(this_year(), "P01"))
    first, second, third = course.chapters.order_by("position")[:3]
    for ch, seconds in ((first, 8), (second, 20), (third, 14)):
        v = make_demo_video(ch, seconds=seconds)
        assert v.status == "ready", v.error
    learner = User.objects.get(username="demo-learner")
    _pay(learner, annual_code(this_year()))

    page = new_page(*PHONE)
    _sign_in(page, "13800000001", LEARNER_PASSWORD)
    page.goto(f"/learn/course/{course.pk}/")
    expect(page.get_by_role("heading", name=course.title)).to_be_visible()
    screenshot(page, "learning-course-375")
    page.get_by_role("link", name=re.compile(first.title)).click()
    expect(page.get_by_role("heading", name=re.compile(first.title))).to_be_visible()
    assert page.evaluate(f"() => MediaSource.isTypeSupported('{H264}')"), "this Chromium cannot play H.264"
    expect(page.locator("#status")).to_contain_text("点击播放")
    assert page.locator("#watermark").inner_text().startswith("张明 150102")

    # 1. Watch the 8-second chapter to the end: the server marks it complete. Its first report
    # meets the timing service away (a 503, as while Redis restarts): the player keeps playing,
    # says so, and its next report claims again from the last acknowledged point and is credited.
    reports = _one_heartbeat_refused(page)
    _play(page)
    expect(page.locator("#chapter-state")).to_contain_text("本章节已完成", timeout=40_000)
    refused, after = reports[0], reports[1]
    assert refused["status"] == 503 and after["status"] == 200, reports
    assert after["body"]["start"] == refused["body"]["start"]  # the unacknowledged stretch again
    assert after["body"]["position"] > refused["body"]["position"] + 1  # it kept playing meanwhile
    claimed = after["body"]["position"] - after["body"]["start"]
    assert after["answer"]["credited"] >= claimed - 0.5 and after["answer"]["reason"] == "", after
    said = page.evaluate("() => window.__said")
    assert any("服务恢复后将自动补记" in t for t in said), said
    assert not any("刷新页面" in t for t in said), said  # never told to reload
    page.unroute(HEARTBEAT_URL)
    expect(page.locator("#watched")).to_have_text("100%")
    expect(page.locator("#course-done")).to_have_text("1")
    screenshot(page, "learning-player-complete-375")
    p1 = ChapterProgress.objects.get(user=learner, chapter=first)
    assert p1.completed_at is not None and p1.watched_seconds >= 5
    # The playback rate is locked to 1x.
    assert (
        page.evaluate(
            "() => { const v = document.getElementById('video'); v.playbackRate = 2; "
            "return new Promise(r => setTimeout(() => r(v.playbackRate), 100)); }"
        )
        == 1
    )

    # 2. The next chapter, saved only every 30 s: anything up to the furthest point played may be
    # replayed (nothing of it was saved yet); a seek past it returns and says why, and a
    # fabricated report earns nothing.
    settings.LEARNING_HEARTBEAT_SECONDS = 30
    page.goto(f"/learn/chapter/{second.pk}/")
    expect(page.locator("#status")).to_contain_text("点击播放")
    _play(page)
    page.wait_for_function("() => document.getElementById('video').currentTime > 8", timeout=20_000)
    page.evaluate("() => { document.getElementById('video').currentTime = 6.5; }")
    page.wait_for_timeout(400)
    back = page.evaluate("() => document.getElementById('video').currentTime")
    assert 6.4 <= back < 8, back  # not snapped to the last saved point (0 s)
    expect(page.locator("#status")).not_to_contain_text("已观看过的位置")
    page.evaluate("() => { document.getElementById('video').currentTime = 18; }")
    expect(page.locator("#status")).to_contain_text(
        re.compile(r"只能拖动到已观看过的位置（最远已观看到 0:0[789]）")
    )
    assert 6.4 <= page.evaluate("() => document.getElementById('video').currentTime") < 10
    screenshot(page, "learning-seek-refused-375")
    page.evaluate("() => document.getElementById('video').pause()")
    expect(page.locator("#status")).to_contain_text("已暂停")
    key = page.locator("#player").get_attribute("data-session")
    fabricated = page.evaluate(
        """async (key) => {
        const csrf = document.getElementById('player').dataset.csrf;
        const r = await fetch('/api/learning/sessions/' + key + '/heartbeat', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
            body: JSON.stringify({seq: 100000, start: 17, position: 20})});
        return await r.json(); }""",
        key,
    )
    assert fabricated["credited"] == 0 and fabricated["reason"] == "skip" and not fabricated["completed"]
    assert SuspiciousEvent.objects.filter(user=learner, kind="skip").exists()
    p2 = _flushed_progress(learner, second)
    assert p2.completed_at is None and 7.5 <= p2.furthest_position < 12  # what was played was saved
    expect(page.locator("#chapter-state")).to_contain_text("本章节未完成")

    # 3. Two tabs (same sign-in): the second takes over midway. What the first played until then
    # is kept; the second is judged from its own start, plays to the end and completes the
    # chapter; the first stops and says why; staff see a takeover, not a speed claim.
    page.goto(f"/learn/chapter/{third.pk}/")
    expect(page.locator("#status")).to_contain_text("点击播放")
    _play(page)
    page.wait_for_function("() => document.getElementById('video').currentTime > 5", timeout=20_000)
    other = page.context.new_page()
    other.goto(f"/learn/chapter/{third.pk}/")
    expect(other.locator("#status")).to_contain_text("点击播放")
    first_tab = PlaySession.objects.filter(user=learner, chapter=third).order_by("started_at").first()
    first_tab.refresh_from_db()
    assert first_tab.superseded_at is not None
    page.evaluate("() => document.getElementById('video').pause()")  # its report reaches the server now
    expect(page.locator("#status")).to_contain_text("其他窗口或设备", timeout=10_000)
    assert page.evaluate("() => document.getElementById('video').paused")
    screenshot(page, "learning-superseded-375")
    _play(other)
    expect(other.locator("#chapter-state")).to_contain_text("本章节已完成", timeout=40_000)
    expect(other.locator("#status")).to_contain_text("已播放完毕")
    expect(other.locator("#status")).not_to_contain_text("学习中")
    screenshot(other, "learning-takeover-complete-375")
    p3 = _flushed_progress(learner, third)
    first_tab.refresh_from_db()
    second_tab = PlaySession.objects.filter(user=learner, chapter=third).exclude(pk=first_tab.pk).get()
    played_before = (first_tab.superseded_at - first_tab.started_at).total_seconds()
    # The first tab's seconds until the takeover (it played ~5 s of them, none saved before).
    assert 4 <= first_tab.credited_seconds <= played_before
    assert second_tab.credited_seconds >= 11  # its own clock: 0-14 s played, judged in full
    assert p3.completed_at is not None and p3.watched_seconds >= 11
    kinds = set(SuspiciousEvent.objects.filter(user=learner, chapter=third).values_list("kind", flat=True))
    assert kinds == {"concurrent"}, kinds  # no "rate": nothing was sped up
    assert SuspiciousEvent.objects.get(chapter=third).get_kind_display() == "被其他窗口或设备接管播放"


HEARTBEAT_URL = re.compile(r"/api/learning/sessions/[0-9a-f]+/heartbeat$")


def _one_heartbeat_refused(page):
    """Fault injection at the network: the page's first heartbeat is answered 503 "unavailable"
    (with Retry-After) without reaching the server; the others go through. Returns the list of
    reports as they happen (request body, status, answer) and records every status line the
    page shows in window.__said."""
    from cpe.learning.services import REFUSALS

    reports = []

    def handle(route):
        body = route.request.post_data_json
        if not reports:
            answer = {"code": "unavailable", "message": REFUSALS["unavailable"]}
            reports.append({"body": body, "status": 503, "answer": answer})
            route.fulfill(status=503, headers={"Retry-After": "1"}, json=answer)
            return
        response = route.fetch()
        reports.append({"body": body, "status": response.status, "answer": response.json()})
        route.fulfill(response=response)

    page.route(HEARTBEAT_URL, handle)
    page.evaluate("""() => {
        const el = document.getElementById('status');
        window.__said = [el.textContent];
        new MutationObserver(() => window.__said.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")
    return reports


def _flushed_progress(learner, chapter):
    """The stored progress, after the hot path's write-behind (when on) has written it."""
    from cpe.learning.models import ChapterProgress
    from cpe.learning.services import progress_flush

    progress_flush(learner.pk)
    return ChapterProgress.objects.get(user=learner, chapter=chapter)
