"""Courseware in an S3-compatible store (moto's server over HTTP, the real boto3 client): the
worker uploads the rendition, a play session's playlist points each segment at a signed store
URL that works, the same objects without a signature are refused, and the AES key is still
served only by the platform to the current play session."""

import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from cpe.learning import courseware, policy
from cpe.learning.models import VideoStatus

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed"),
]


@pytest.fixture
def local_root(settings, tmp_path):
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    return settings.COURSEWARE_ROOT


@pytest.fixture
def video(s3, local_root, chapter):
    from cpe.learning.demo import make_demo_video

    return make_demo_video(chapter, seconds=9)


def _session(client, chapter):
    r = client.post("/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json")
    assert r.status_code == 201, r.content
    return r.json()


def test_the_rendition_and_source_live_in_the_bucket_only(s3, video, local_root):
    assert video.status == VideoStatus.READY, video.error
    keys = s3.keys()
    prefix = f"courseware/hls/{video.hls_dir}/"
    rendition = [k for k in keys if k.startswith(prefix)]
    assert sorted(k[len(prefix) :] for k in rendition) == [
        "index.m3u8",
        "seg_0000.ts",
        "seg_0001.ts",
        "seg_0002.ts",
    ]
    assert [k for k in keys if k.startswith("courseware/src/")] == [f"courseware/src/{video.source.name}"]
    assert set(keys) == set(rendition) | {f"courseware/src/{video.source.name}"}  # no key file, nothing else
    head = s3.client.head_object(Bucket=s3.bucket, Key=prefix + "seg_0000.ts")
    assert head["ContentType"] == "video/mp2t"
    # Nothing on the local disk: a second node reads the same files.
    assert not local_root.exists() or not any(p.is_file() for p in local_root.rglob("*"))
    # Every object is private: its ACL grants nobody but the owner.
    for key in keys:
        grants = s3.client.get_object_acl(Bucket=s3.bucket, Key=key)["Grants"]
        assert all(g["Grantee"].get("URI") is None for g in grants), (key, grants)


def test_playlist_points_at_signed_store_urls_and_unsigned_reads_are_refused(
    s3, video, signed_in, chapter, enrolment, other_learner
):
    play = _session(signed_in, chapter)
    r = signed_in.get(play["playlist_url"])
    assert r.status_code == 200 and r["Content-Type"] == "application/vnd.apple.mpegurl"
    lines = r.content.decode().splitlines()
    key_url = next(ln for ln in lines if ln.startswith("#EXT-X-KEY")).split('URI="')[1].split('"')[0]
    seg_urls = [ln for ln in lines if ln and not ln.startswith("#")]
    assert len(seg_urls) == 3

    # Each segment straight from the store, signed, short-lived.
    store_prefix = f"{s3.endpoint}/{s3.bucket}/courseware/hls/{video.hls_dir}/seg_"
    for url in seg_urls:
        assert url.startswith(store_prefix), url
        q = parse_qs(urlsplit(url).query)
        assert q["X-Amz-Signature"][0] and q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert 0 < int(q["X-Amz-Expires"][0]) <= policy.SIGNED_URL_TTL + 3 * courseware.SEGMENT_SECONDS + 1

    got = requests.get(seg_urls[0], timeout=10)
    stored = s3.client.get_object(Bucket=s3.bucket, Key=f"courseware/hls/{video.hls_dir}/seg_0000.ts")[
        "Body"
    ].read()
    assert got.status_code == 200 and got.content == stored and len(stored) > 188 * 10
    assert not all(stored[i] == 0x47 for i in range(0, 188 * 10, 188))  # encrypted, not clear MPEG-TS

    # The same objects without a signature: refused by the store.
    for url in seg_urls:
        assert requests.get(url.split("?", 1)[0], timeout=10).status_code == 403
    base = f"{s3.endpoint}/{s3.bucket}/courseware"
    assert requests.get(f"{base}/hls/{video.hls_dir}/index.m3u8", timeout=10).status_code == 403
    assert requests.get(f"{base}/src/{video.source.name}", timeout=10).status_code == 403

    # The key: the platform's, for this play session only.
    assert key_url.startswith("/learn/key/")
    got_key = signed_in.get(key_url)
    assert got_key.status_code == 200 and got_key.content == bytes.fromhex(video.key_hex)
    assert Client().get(key_url).status_code == 403  # signed out
    other = Client()
    other.force_login(other_learner)
    assert other.get(key_url).status_code == 403  # another learner
    _session(signed_in, chapter)  # a second player takes over
    assert signed_in.get(key_url).status_code == 403
    assert signed_in.get(play["playlist_url"]).status_code == 403


def test_an_old_platform_segment_url_is_redirected_to_a_signed_store_url(s3, video, signed_in):
    import time

    r = signed_in.get(courseware.sign_segment(video.hls_dir, "seg_0001.ts", time.time() + 60))
    assert r.status_code == 302
    target = r["Location"]
    assert target.startswith(f"{s3.endpoint}/{s3.bucket}/courseware/hls/{video.hls_dir}/seg_0001.ts?")
    assert 0 < int(parse_qs(urlsplit(target).query)["X-Amz-Expires"][0]) <= 60
    assert requests.get(target, timeout=10).status_code == 200
    expired = courseware.sign_segment(video.hls_dir, "seg_0001.ts", time.time() - 1)
    assert signed_in.get(expired).status_code == 403


def test_a_cdn_in_front_of_the_bucket_gets_the_signed_path_and_query(s3, video, settings):
    from config.settings.storage import named_storages

    settings.STORAGES = {
        **settings.STORAGES,
        **named_storages({**s3.env, "CDN_BASE_URL": "https://cdn.example.cn/"}),
    }
    text = courseware.signed_playlist(
        courseware.read_playlist(video.hls_dir), hls_dir=video.hls_dir, session_key="k"
    )
    segs = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert segs and all(
        u.startswith(f"https://cdn.example.cn/{s3.bucket}/courseware/hls/{video.hls_dir}/seg_")
        and "X-Amz-Signature=" in u
        for u in segs
    )
    # Private documents never go through the CDN.
    from cpe.core import storage as stores

    assert stores.signed_url(stores.exports(), "x.xlsx").startswith(s3.endpoint)


def test_a_new_rendition_replaces_the_old_one_in_the_store(s3, video):
    from cpe.learning import services
    from cpe.learning.models import ChapterVideo

    old = video.hls_dir
    ChapterVideo.objects.filter(pk=video.pk).update(status=VideoStatus.PENDING)  # e.g. a new upload
    assert services.video_transcode(video.pk) == "ready"
    video.refresh_from_db()
    assert video.hls_dir != old
    hls = [k for k in s3.keys() if k.startswith("courseware/hls/")]
    assert hls and all(
        k.startswith(f"courseware/hls/{video.hls_dir}/") for k in hls
    )  # the old folder is gone


def test_a_broken_source_leaves_nothing_in_the_store(s3, local_root, chapter):
    from django.core.files.base import ContentFile

    from cpe.learning import services
    from cpe.learning.models import ChapterVideo

    v = ChapterVideo(chapter=chapter)
    v.source.save("bad.mp4", ContentFile(b"\0\0\0\x20ftypisom" + b"x" * 200), save=True)
    assert services.video_transcode(v.pk) == "failed"
    v.refresh_from_db()
    assert v.status == VideoStatus.FAILED and "无法读取视频时长" in v.error and not v.hls_dir
    assert s3.keys() == [f"courseware/src/{v.source.name}"]  # the upload only; no rendition


def test_the_playlist_is_read_once_and_a_dead_store_answers_503(
    s3,
    video,
    signed_in,
    chapter,
    enrolment,
    settings,
):
    from django.core.cache import cache

    from config.settings.storage import named_storages

    play = _session(signed_in, chapter)
    assert signed_in.get(play["playlist_url"]).status_code == 200
    dead = {**s3.env, "S3_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens on the discard port
    settings.STORAGES = {**settings.STORAGES, **named_storages(dead)}
    again = signed_in.get(play["playlist_url"])  # from the cache: no round trip
    assert again.status_code == 200 and again.content.decode().count("X-Amz-Signature=") == 3
    cache.delete(f"learning:playlist:{video.hls_dir}")
    r = signed_in.get(play["playlist_url"])
    assert r.status_code == 503 and "文件存储暂时无法访问" in r.content.decode()
