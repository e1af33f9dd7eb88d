"""A sanction stops a playing player at once, in a real browser (rules R1.8, R12): staff put the
learner's account on a correction hold while a chapter plays; the player's next heartbeat is
refused, the player stops and shows why, and nothing more is credited."""

import re
import shutil
import time

import pytest
from playwright.sync_api import expect

from cpe.backoffice.demo import annual_code, course_code
from cpe.catalog.tests.factories import this_year

from .test_learning_journey import LEARNER_PASSWORD, PHONE, _pay, _play, _sign_in


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_a_hold_stops_the_playing_player_and_says_why(
    new_page, screenshot, demo_accounts, settings, tmp_path
):
    from cpe.accounts.models import User
    from cpe.accounts.services import correction_hold_set
    from cpe.catalog.models import Course
    from cpe.learning import hotpath
    from cpe.learning.demo import make_demo_video
    from cpe.learning.models import ChapterProgress, PlaySession

    settings.LEARNING_HEARTBEAT_SECONDS = 2
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    course = Course.objects.get(code=course_code(this_year(), "P01"))
    chapter = course.chapters.order_by("position").first()
    assert make_demo_video(chapter, seconds=30).status == "ready"
    learner = User.objects.get(username="demo-learner")
    _pay(learner, annual_code(this_year()))

    page = new_page(*PHONE)
    _sign_in(page, "13800000001", LEARNER_PASSWORD)
    page.goto(f"/learn/chapter/{chapter.pk}/")
    expect(page.get_by_role("heading", name=re.compile(chapter.title))).to_be_visible()
    _play(page)
    expect(page.locator("#watched")).not_to_have_text("0%", timeout=20_000)  # credited while it plays

    correction_hold_set(user_id=learner.pk, reason="姓名与身份证不一致，请更正。", actor=None)
    expect(page.locator("#status")).to_contain_text("您的资料需要更正", timeout=10_000)
    assert page.evaluate("() => document.getElementById('video').paused")
    screenshot(page, "learning-stopped-on-hold-375")

    s = PlaySession.objects.get(user=learner, chapter=chapter)
    assert s.revoked_reason == "on_hold"
    if hotpath.enabled():
        hotpath.flush_dirty()
    before = ChapterProgress.objects.get(user=learner, chapter=chapter).watched_seconds
    time.sleep(3)  # more than a heartbeat interval: nothing more comes in
    if hotpath.enabled():
        hotpath.flush_dirty()
    p = ChapterProgress.objects.get(user=learner, chapter=chapter)
    assert p.watched_seconds == before and p.completed_at is None
