"""The learning journey in a real browser (rules R7): a learner with a paid annual course plays a
real AES-128 HLS chapter (made by ffmpeg from its test sources) until the server marks it
complete; a seek ahead (and a fabricated heartbeat) does not complete a chapter; a second tab
stops the first one's credit, which says why."""
import re
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

PHONE = (375, 812)
from conftest import this_year
from cpe.backoffice.demo import DEMO_LEARNER_PASSWORD as LEARNER_PASSWORD
from cpe.backoffice.demo import annual_code, course_code
H264 = 'video/mp4; codecs="avc1.4d401f,mp4a.40.2"'


def _pay(user, product_code):
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.services import order_create, payment_confirm

    order = order_create(user=user, product_code=product_code, ais_confirmed=True)
    payment_confirm(gateway_name="alipay", notice=PaymentNotice(
        order_number=order.number, gateway_txn_id="T" + order.number, amount_fen=order.amount_fen,
        paid_at=timezone.now() - timedelta(minutes=1)))


def _sign_in(page, identifier, password):
    page.goto("/accounts/login/")
    page.get_by_label("身份证号码或手机号码", exact=True).fill(identifier)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/dashboard/$"))


def _play(page):
    # Headless Chromium has no user gesture: muted playback is allowed to start from script.
    page.evaluate("() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }")


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_learning_journey(new_page, screenshot, demo_accounts, settings, tmp_path):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.learning.demo import make_demo_video
    from cpe.learning.models import ChapterProgress, SuspiciousEvent

    settings.LEARNING_HEARTBEAT_SECONDS = 2
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    course = Course.objects.get(code=course_code(this_year(), "P01"))
    first, second, third = course.chapters.order_by("position")[:3]
    for ch, seconds in ((first, 8), (second, 12)):
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

    # 1. Watch the 8-second chapter to the end: the server marks it complete.
    _play(page)
    expect(page.locator("#chapter-state")).to_contain_text("本章节已完成", timeout=40_000)
    expect(page.locator("#watched")).to_have_text("100%")
    expect(page.locator("#course-done")).to_have_text("1")
    screenshot(page, "learning-player-complete-375")
    p1 = ChapterProgress.objects.get(user=learner, chapter=first)
    assert p1.completed_at is not None and p1.watched_seconds >= 5
    # The playback rate is locked to 1x.
    assert page.evaluate("() => { const v = document.getElementById('video'); v.playbackRate = 2; "
                         "return new Promise(r => setTimeout(() => r(v.playbackRate), 100)); }") == 1

    # 2. The next chapter: a seek ahead is pulled back, and a fabricated report earns nothing.
    page.goto(f"/learn/chapter/{second.pk}/")
    expect(page.locator("#status")).to_contain_text("点击播放")
    _play(page)
    page.wait_for_function("() => document.getElementById('video').currentTime > 1")
    page.evaluate("() => { document.getElementById('video').currentTime = 11; }")
    expect(page.locator("#status")).to_contain_text("不能拖动到尚未观看的位置")
    assert page.evaluate("() => document.getElementById('video').currentTime") < 6
    key = page.locator("#player").get_attribute("data-session")
    fabricated = page.evaluate("""async (key) => {
        const csrf = document.getElementById('player').dataset.csrf;
        const r = await fetch('/api/learning/sessions/' + key + '/heartbeat', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
            body: JSON.stringify({seq: 100000, start: 9, position: 12})});
        return await r.json(); }""", key)
    assert fabricated["credited"] == 0 and fabricated["reason"] == "skip" and not fabricated["completed"]
    assert SuspiciousEvent.objects.filter(user=learner, kind="skip").exists()
    page.evaluate("() => document.getElementById('video').pause()")
    p2 = ChapterProgress.objects.get(user=learner, chapter=second)
    assert p2.completed_at is None and p2.furthest_position < 8
    expect(page.locator("#chapter-state")).to_contain_text("本章节未完成")

    # 3. A second tab (same sign-in) takes over: the first stops and says why.
    _play(page)
    other = page.context.new_page()
    other.goto(f"/learn/chapter/{second.pk}/")
    expect(other.locator("#status")).to_contain_text("点击播放")
    expect(page.locator("#status")).to_contain_text("其他窗口或设备", timeout=10_000)
    assert page.evaluate("() => document.getElementById('video').paused")
    screenshot(page, "learning-superseded-375")
    assert SuspiciousEvent.objects.filter(user=learner, kind="concurrent").exists()
    assert ChapterProgress.objects.get(user=learner, chapter=second).completed_at is None
