"""Chapter video uploads (attacker review): known containers only (first bytes and the demuxer
ffprobe names), a size cap, and ffmpeg/ffprobe restricted to the file protocol and those demuxers,
so an HLS playlist or an ffconcat script uploaded as "lecture.mp4" can neither fetch a URL nor read
another local file (another chapter's source, a server file)."""

import http.server
import shutil
import subprocess
import threading

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cpe.learning import courseware, policy, services
from cpe.learning.models import ChapterVideo, VideoStatus

pytestmark = pytest.mark.django_db
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@pytest.fixture
def cw(settings, tmp_path):
    settings.COURSEWARE_ROOT = tmp_path / "courseware"
    settings.COURSEWARE_SERVE_DIRECT = True
    settings.COURSEWARE_ACCEL_PREFIX = ""
    return settings.COURSEWARE_ROOT


@pytest.fixture(autouse=True)
def _remove_sources():
    """Sources are stored where the model's storage points (var/courseware/src in tests too):
    remove what each test added there."""
    from pathlib import Path

    src_dir = Path(ChapterVideo._meta.get_field("source").storage.location)
    before = set(src_dir.iterdir()) if src_dir.exists() else set()
    yield
    for f in (set(src_dir.iterdir()) if src_dir.exists() else set()) - before:
        f.unlink(missing_ok=True)


@pytest.fixture
def secret_video(tmp_path):
    """A real, readable video that is not the upload: what an attacker's playlist points at."""
    mp4 = tmp_path / "secret.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=10:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(mp4),
        ],
        check=True,
    )
    ts = tmp_path / "secret.ts"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(mp4), "-c", "copy", "-f", "mpegts", str(ts)],
        check=True,
    )
    return mp4, ts


@pytest.fixture
def http_hits():
    """A local HTTP server that records every request: an SSRF attempt shows up here."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def _hls_playlist(target: str) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{target}\n#EXT-X-ENDLIST\n".encode()


def _crafted(secret_video, http_hits):
    mp4, ts = secret_video
    base, _ = http_hits
    return {
        "hls-local-file": _hls_playlist(str(ts)),
        "hls-url": _hls_playlist(f"{base}/stolen.ts"),
        "ffconcat-local-file": f"ffconcat version 1.0\nfile {mp4.name}\n".encode(),
        "ffconcat-url": f"ffconcat version 1.0\nfile {base}/concat.mp4\n".encode(),
    }


def _stored_next_to(secret_video, cw, chapter, content: bytes) -> ChapterVideo:
    """The crafted file stored as a source, in the same directory as the secret (relative
    concat paths resolve there): as if it had come in some way other than the form."""
    v = ChapterVideo(chapter=chapter)
    v.source.save("lecture.mp4", ContentFile(content), save=True)
    # Move the secret next to the stored file, where a relative name would find it.
    from pathlib import Path

    src_dir = Path(v.source.path).parent
    for f in secret_video:
        shutil.copy(f, src_dir / f.name)
    return v


@needs_ffmpeg
@pytest.mark.parametrize("name", ["hls-local-file", "hls-url", "ffconcat-local-file", "ffconcat-url"])
def test_crafted_playlist_is_never_followed_by_the_transcoder(cw, chapter, secret_video, http_hits, name):
    content = _crafted(secret_video, http_hits)[name]
    v = _stored_next_to(secret_video, cw, chapter, content)
    assert services.video_transcode(v.pk) == "failed"
    v.refresh_from_db()
    assert v.status == VideoStatus.FAILED and not v.hls_dir and v.duration is None
    assert policy.VIDEO_FORMAT_MESSAGE in v.error
    assert http_hits[1] == []  # nothing fetched
    assert not (courseware.root() / "hls").exists() or not any((courseware.root() / "hls").rglob("*.ts"))
    chapter.refresh_from_db()
    assert chapter.duration_seconds == 120  # unchanged


@needs_ffmpeg
@pytest.mark.parametrize("name", ["hls-local-file", "hls-url", "ffconcat-local-file", "ffconcat-url"])
def test_ffprobe_and_ffmpeg_commands_themselves_refuse_playlists(cw, tmp_path, secret_video, http_hits, name):
    """The second wall, without the Python sniffing: the command lines alone read nothing but the
    named file (format and protocol whitelists)."""
    content = _crafted(secret_video, http_hits)[name]
    src = secret_video[0].parent / "upload.mp4"
    src.write_bytes(content)
    probe = subprocess.run(courseware.ffprobe_cmd(src), capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and courseware.parse_probe(probe.stdout)[0] == 0.0
    out = tmp_path / "out"
    out.mkdir()
    key_info = tmp_path / "keyinfo"
    (tmp_path / "k").write_bytes(b"0" * 16)
    key_info.write_text(f"key.bin\n{tmp_path / 'k'}\n")
    run = subprocess.run(
        courseware.ffmpeg_hls_cmd(src, out, key_info, 10.0), capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0 and not list(out.glob("*.ts"))
    assert http_hits[1] == []


@needs_ffmpeg
def test_allowed_containers_still_transcode(cw, chapter, secret_video, tmp_path):
    mp4, _ = secret_video
    mkv = tmp_path / "lecture.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(mp4), "-c", "copy", str(mkv)], check=True)
    v = ChapterVideo(chapter=chapter)
    v.source.save("lecture.mkv", ContentFile(mkv.read_bytes()), save=True)
    assert services.video_transcode(v.pk) == "ready"
    v.refresh_from_db()
    assert v.status == VideoStatus.READY and 1.5 < v.duration < 2.5


@needs_ffmpeg
def test_oversized_source_refused_before_ffmpeg(cw, chapter, secret_video, monkeypatch):
    monkeypatch.setattr(policy, "VIDEO_MAX_BYTES", 100)
    v = ChapterVideo(chapter=chapter)
    v.source.save("lecture.mp4", ContentFile(secret_video[0].read_bytes()), save=True)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    assert services.video_transcode(v.pk) == "failed"
    v.refresh_from_db()
    assert "不能超过" in v.error and ran == []


def _editor(django_user_model):
    from django.contrib.auth.models import Permission

    editor = django_user_model.objects.create_user("ed", "x", name="编辑", is_staff=True)
    codes = ["add_chaptervideo", "view_chaptervideo", "change_chaptervideo"]
    editor.user_permissions.add(*Permission.objects.filter(codename__in=codes))
    return editor


@needs_ffmpeg
@pytest.mark.parametrize(
    "content,name",
    [
        (b"#EXTM3U\n#EXTINF:2,\nhttp://169.254.169.254/latest/meta-data\n#EXT-X-ENDLIST\n", "lecture.mp4"),
        (b"ffconcat version 1.0\nfile other.mp4\n", "lecture.mov"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "lecture.mp4"),
        (b"", "lecture.mp4"),
    ],
)
def test_admin_refuses_a_non_video_upload_and_stores_nothing(
    client, cw, chapter, django_user_model, content, name, django_capture_on_commit_callbacks
):
    from pathlib import Path

    src_dir = Path(ChapterVideo._meta.get_field("source").storage.location)
    before = set(src_dir.iterdir()) if src_dir.exists() else set()
    client.force_login(_editor(django_user_model))
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            reverse("admin:learning_chaptervideo_add"),
            {"chapter": chapter.pk, "source": SimpleUploadedFile(name, content)},
        )
    assert resp.status_code == 200
    page = resp.content.decode()
    assert policy.VIDEO_FORMAT_MESSAGE in page or "空" in page
    assert not ChapterVideo.objects.exists()
    assert (set(src_dir.iterdir()) if src_dir.exists() else set()) == before  # nothing stored


@needs_ffmpeg
def test_admin_accepts_a_real_video_and_refuses_an_oversized_one(
    client, cw, chapter, django_user_model, secret_video, monkeypatch, django_capture_on_commit_callbacks
):
    client.force_login(_editor(django_user_model))
    data = secret_video[0].read_bytes()
    monkeypatch.setattr(policy, "VIDEO_MAX_BYTES", len(data) - 1)
    resp = client.post(
        reverse("admin:learning_chaptervideo_add"),
        {"chapter": chapter.pk, "source": SimpleUploadedFile("lecture.mp4", data)},
    )
    assert resp.status_code == 200 and "不能超过" in resp.content.decode()
    assert not ChapterVideo.objects.exists()
    monkeypatch.setattr(policy, "VIDEO_MAX_BYTES", len(data))
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            reverse("admin:learning_chaptervideo_add"),
            {"chapter": chapter.pk, "source": SimpleUploadedFile("lecture.mp4", data)},
        )
    assert resp.status_code == 302
    v = ChapterVideo.objects.get()
    assert v.status == VideoStatus.READY, v.error
    assert v.source.name.endswith(".mp4")


@pytest.mark.parametrize(
    "head,container",
    [
        (b"\0\0\0\x20ftypisom\0\0", "mp4"),
        (b"\0\0\0\x14ftypqt  \0\0", "mp4"),
        (b"\0\0\x01\x00moov\0\0\0\0", "mp4"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81", "mkv"),
        (b"FLV\x01\x01\0\0\0\x09\0\0\0", "flv"),
        (b"#EXTM3U\n#EXT-X", None),
        (b"ffconcat ver", None),
        (b"\x89PNG\r\n\x1a\n\0\0\0\0", None),
        (b"", None),
        (b"\0\0\0\x20ftyp", "mp4"),
        (b"FLV\x02", None),
        (b"GIF89a", None),
    ],
)
def test_video_container_policy(head, container):
    assert policy.video_container(head) == container


@pytest.mark.parametrize(
    "name,ok",
    [
        ("mov,mp4,m4a,3gp,3g2,mj2", True),
        ("matroska,webm", True),
        ("flv", True),
        ("hls", False),
        ("concat", False),
        ("image2", False),
        ("", False),
        ("mov,hls", False),
    ],
)
def test_video_demuxer_policy(name, ok):
    assert policy.video_demuxer_allowed(name) is ok


def test_source_names_keep_only_known_extensions():
    from cpe.learning.models import _source_path

    assert _source_path(None, "a.MP4").endswith(".mp4")
    assert _source_path(None, "a.m3u8").endswith(".video")
    assert _source_path(None, "noext").endswith(".video")
