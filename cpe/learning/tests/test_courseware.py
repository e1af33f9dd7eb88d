"""Transcoding to AES-128 HLS, and delivery: signed playlist, key and segments; the key only for
the signed-in learner's current play session (rules R7.1)."""

import shutil
import time

import pytest

from cpe.learning import courseware, services
from cpe.learning.models import ChapterVideo, VideoStatus

pytestmark = pytest.mark.django_db
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@pytest.fixture
def cw(settings, tmp_path):
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    return settings.COURSEWARE_ROOT


@pytest.fixture
def video(cw, chapter):
    from cpe.learning.demo import make_demo_video

    return make_demo_video(chapter, seconds=9)


@needs_ffmpeg
def test_transcode_makes_encrypted_4s_segments_and_is_idempotent(video, chapter):
    assert video.status == VideoStatus.READY and video.progress == 100, video.error
    assert 8.5 < video.duration < 9.5 and len(video.key_hex) == 32
    chapter.refresh_from_db()
    assert chapter.duration_seconds == 9
    text = courseware.hls_path(video.hls_dir).read_text()
    assert '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"' in text and "#EXT-X-PLAYLIST-TYPE:VOD" in text
    durations = [float(line[8:].split(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:")]
    assert len(durations) == 3 and all(d <= 4.1 for d in durations)
    seg = courseware.hls_path(video.hls_dir, "seg_0000.ts").read_bytes()
    # Encrypted: clear MPEG-TS has its sync byte 0x47 at every 188-byte packet; ciphertext may
    # start with 0x47 by chance (1 in 256), never at ten packet boundaries in a row.
    assert not all(seg[i] == 0x47 for i in range(0, 188 * 10, 188))
    assert not list(courseware.hls_path(video.hls_dir).parent.glob("*key*"))  # no key file left with segments
    hls_dir = video.hls_dir
    assert services.video_transcode(video.pk) == "ready"
    video.refresh_from_db()
    assert video.hls_dir == hls_dir


def test_a_broken_source_fails_with_an_error_for_the_editor(cw, chapter):
    from django.core.files.base import ContentFile

    from cpe.learning import policy

    v = ChapterVideo(chapter=chapter)
    v.source.save("bad.mp4", ContentFile(b"not a video"), save=True)
    assert services.video_transcode(v.pk) == "failed"
    v.refresh_from_db()
    # Not a known container by its first bytes: refused before ffprobe runs.
    assert v.status == VideoStatus.FAILED and policy.VIDEO_FORMAT_MESSAGE in v.error and not v.hls_dir
    # An MP4 header with nothing playable behind it: ffprobe finds no duration.
    v.source.save("bad2.mp4", ContentFile(b"\0\0\0\x20ftypisom" + b"x" * 200), save=True)
    assert services.video_transcode(v.pk) == "failed"
    v.refresh_from_db()
    assert v.status == VideoStatus.FAILED and "无法读取视频时长" in v.error and not v.hls_dir


@needs_ffmpeg
def test_signed_delivery_for_the_current_session_only(
    signed_in, learner, chapter, enrolment, video, client, other_learner
):
    r = signed_in.post("/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json")
    assert r.status_code == 201, r.content
    key = r.json()["session"]
    playlist = signed_in.get(r.json()["playlist_url"])
    assert playlist.status_code == 200 and playlist["Content-Type"] == "application/vnd.apple.mpegurl"
    lines = playlist.content.decode().splitlines()
    key_url = next(ln for ln in lines if ln.startswith("#EXT-X-KEY")).split('URI="')[1].split('"')[0]
    seg_urls = [ln for ln in lines if ln and not ln.startswith("#")]
    assert key_url.startswith("/learn/key/") and all(u.startswith("/learn/seg/") for u in seg_urls)
    got = signed_in.get(key_url)
    assert got.status_code == 200 and got.content == bytes.fromhex(video.key_hex)
    seg = signed_in.get(seg_urls[0])
    assert seg.status_code == 200 and b"".join(seg.streaming_content)[:1] != b"\x47"

    # Missing, tampered or expired signatures are refused.
    assert signed_in.get("/learn/key/nothing/").status_code == 403
    assert signed_in.get(key_url[:-3] + "xx/").status_code == 403
    assert signed_in.get(seg_urls[0][:-3] + "xx/").status_code == 403
    expired = courseware.sign_segment(video.hls_dir, "seg_0000.ts", time.time() - 1)
    assert signed_in.get(expired).status_code == 403
    assert signed_in.get(courseware.sign_key(key, video.hls_dir, time.time() - 1)).status_code == 403
    assert (
        signed_in.get(courseware.sign_segment(video.hls_dir, "../../x.ts", time.time() + 60)).status_code
        == 403
    )

    # Another learner with a valid signed URL gets no key and no playlist.
    from django.test import Client

    other = Client()
    other.force_login(other_learner)
    assert other.get(key_url).status_code == 403
    assert other.get(r.json()["playlist_url"]).status_code == 403
    assert Client().get(key_url).status_code == 403  # signed out

    # A second player supersedes the first: the first's key URL stops answering.
    r2 = signed_in.post("/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json")
    assert r2.status_code == 201
    assert signed_in.get(key_url).status_code == 403
    assert signed_in.get(r.json()["playlist_url"]).status_code == 403


@needs_ffmpeg
def test_production_hands_segments_to_nginx(settings, video, signed_in, chapter, enrolment):
    settings.COURSEWARE_ACCEL_PREFIX = "/protected-hls/"
    settings.COURSEWARE_SERVE_DIRECT = False
    url = courseware.sign_segment(video.hls_dir, "seg_0001.ts", time.time() + 60)
    r = signed_in.get(url)
    assert r.status_code == 200 and r["X-Accel-Redirect"] == f"/protected-hls/{video.hls_dir}/seg_0001.ts"
    assert r.content == b""
    settings.COURSEWARE_ACCEL_PREFIX = ""
    assert signed_in.get(url).status_code == 404  # never streamed by Django in production


def test_signed_playlist_ttl_grows_with_the_segment_offset(settings):
    settings.LEARNING_SIGNED_URL_TTL = 600
    text = (
        '#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1\n#EXTINF:4.0,\nseg_0000.ts\n'
        "#EXTINF:4.0,\nseg_0001.ts\n#EXTINF:4.0,\nhttp://evil/x.ts\n#EXT-X-ENDLIST\n"
    )
    out = courseware.signed_playlist(text, hls_dir="1/a", session_key="k", now=1000.0)
    segs = [ln for ln in out.splitlines() if ln.startswith("/learn/seg/")]
    assert len(segs) == 2 and "evil" not in out
    tokens = [ln.split("/")[3] for ln in segs]
    assert [courseware.verify_segment(t, now=1599)["f"] for t in tokens] == ["seg_0000.ts", "seg_0001.ts"]
    assert courseware.verify_segment(tokens[0], now=1600) is None  # expires at now + 0 + 600
    assert courseware.verify_segment(tokens[1], now=1603.5) is not None  # now + 4 + 600
    assert courseware.verify_segment(tokens[1], now=1604) is None
