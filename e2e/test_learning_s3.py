"""A demo chapter plays in a real browser with the courseware in an S3-compatible store (moto's
server over HTTP): hls.js fetches every segment from the store by its signed URL, the key from
the platform, and the server marks the chapter complete."""

import re
import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from cpe.backoffice.demo import DEMO_LEARNER_PASSWORD as LEARNER_PASSWORD
from cpe.backoffice.demo import annual_code, course_code
from cpe.catalog.tests.factories import this_year

from .test_learning_journey import _pay, _play, _sign_in


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("width,height", [(375, 812), (1280, 900)])
def test_a_chapter_plays_from_the_object_store(
    width,
    height,
    s3,  # noqa: F811 (the fixture imported above)
    new_page,
    screenshot,
    demo_accounts,
    settings,
    tmp_path,
    live_server,
):
    from cpe.accounts.models import User
    from cpe.catalog.models import Course
    from cpe.learning.demo import make_demo_video
    from cpe.learning.models import ChapterProgress

    settings.LEARNING_HEARTBEAT_SECONDS = 2
    settings.COURSEWARE_ROOT = tmp_path / "courseware"  # must stay empty
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    # The player fetches segments cross-origin: the bucket admits the platform's origin (docs/storage.md).
    s3.client.put_bucket_cors(
        Bucket=s3.bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [live_server.url],
                    "AllowedMethods": ["GET", "HEAD"],
                    "AllowedHeaders": ["*"],
                }
            ]
        },
    )
    course = Course.objects.get(code=course_code(this_year(), "P01"))
    chapter = course.chapters.order_by("position").first()
    video = make_demo_video(chapter, seconds=8)
    assert video.status == "ready", video.error
    learner = User.objects.get(username="demo-learner")
    _pay(learner, annual_code(this_year()))

    page = new_page(width, height)
    seen = []
    page.on("response", lambda r: seen.append((r.url, r.status)))
    _sign_in(page, "13800000001", LEARNER_PASSWORD)
    page.goto(f"/learn/chapter/{chapter.pk}/")
    expect(page.locator("#status")).to_contain_text("点击播放")
    _play(page)
    expect(page.locator("#chapter-state")).to_contain_text("本章节已完成", timeout=40_000)
    screenshot(page, f"learning-s3-complete-{width}")

    store = urlsplit(s3.endpoint).netloc
    segments = [(u, st) for u, st in seen if u.split("?")[0].endswith(".ts")]
    assert segments and all(urlsplit(u).netloc == store and st == 200 for u, st in segments), segments
    assert all("X-Amz-Signature=" in u for u, _ in segments)
    assert {u.split("?")[0].rsplit("/", 1)[1] for u, _ in segments} >= {"seg_0000.ts", "seg_0001.ts"}
    keys = [(u, st) for u, st in seen if "/learn/key/" in u]
    assert keys and all(
        u.startswith(live_server.url) and st == 200 for u, st in keys
    )  # the key: the platform's
    assert not any(urlsplit(u).netloc == store and "/learn/" in u for u, _ in seen)
    assert not any(p.is_file() for p in (tmp_path / "courseware").rglob("*"))
    assert ChapterProgress.objects.get(user=learner, chapter=chapter).completed_at is not None
    assert re.search(r"/learn/chapter/\d+/$", page.url)
