"""Courseware files: where the HLS renditions live (the "courseware" and "courseware_sources"
storages: local directories or a private S3-compatible bucket, docs/storage.md), the signed
short-lived URLs of their segments and key, and the ffmpeg/ffprobe command lines (rules R7.1;
without a forced GOP the segments come out 10 s long)."""

import re
import time
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.urls import reverse

from cpe.core import storage as stores

from . import policy

SEGMENT_SECONDS = 4  # HLS segment length (4-6 s); keyframes are forced on this grid
SEGMENT_NAME = re.compile(r"^seg_\d{4,6}\.ts$")
KEY_URI_PLACEHOLDER = "key.bin"
PLAYLIST_NAME = "index.m3u8"
_SEG_SALT, _KEY_SALT = "learning.segment", "learning.key"


def root() -> Path:
    """The filesystem default's renditions (hls/) and sources (src/), outside MEDIA_ROOT so
    nothing serves them by accident."""
    return Path(getattr(settings, "COURSEWARE_ROOT", Path(settings.MEDIA_ROOT).parent / "courseware"))


def source_storage():
    """The uploaded sources' storage, as ChapterVideo.source holds it (follows STORAGES)."""
    return stores.NamedStorage("courseware_sources")


def rendition_storage():
    return stores.courseware()


def rendition_exists(hls_dir: str) -> bool:
    return bool(hls_dir) and rendition_storage().exists(f"{hls_dir}/{PLAYLIST_NAME}")


# A rendition folder is written once under a fresh name and never changed, so its playlist may
# be cached as long as the cache likes: a play then costs no round trip to the store.
PLAYLIST_CACHE_SECONDS = 24 * 3600


def read_playlist(hls_dir: str) -> str:
    """The rendition's playlist as ffmpeg wrote it (FileNotFoundError/OSError when absent)."""
    key = f"learning:playlist:{hls_dir}"
    text = cache.get(key)
    if text is None:
        with rendition_storage().open(f"{hls_dir}/{PLAYLIST_NAME}", "rb") as f:
            text = f.read().decode("utf-8")
        cache.set(key, text, PLAYLIST_CACHE_SECONDS)
    return text


def url_ttl() -> int:
    return int(getattr(settings, "LEARNING_SIGNED_URL_TTL", policy.SIGNED_URL_TTL))


def sign_segment(hls_dir: str, name: str, expires: float) -> str:
    return reverse(
        "learning:segment", args=[signing.dumps({"d": hls_dir, "f": name, "e": int(expires)}, salt=_SEG_SALT)]
    )


def sign_key(session_key: str, hls_dir: str, expires: float) -> str:
    return reverse(
        "learning:key",
        args=[signing.dumps({"s": session_key, "d": hls_dir, "e": int(expires)}, salt=_KEY_SALT)],
    )


def _unsign(token: str, salt: str, now: float) -> dict | None:
    try:
        data = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or float(data.get("e", 0)) <= now:
        return None
    return data


def verify_segment(token: str, now: float | None = None) -> dict | None:
    data = _unsign(token, _SEG_SALT, time.time() if now is None else now)
    if data is None or not SEGMENT_NAME.match(str(data.get("f", ""))):
        return None
    return data


def verify_key(token: str, now: float | None = None) -> dict | None:
    return _unsign(token, _KEY_SALT, time.time() if now is None else now)


def signed_playlist(text: str, *, hls_dir: str, session_key: str, now: float | None = None) -> str:
    """Rewrite a VOD playlist: the key URI and each segment become signed URLs. A segment's URL
    lives SIGNED_URL_TTL past the moment it plays (its offset in the timeline), so an hour-long
    lecture is not one long-lived set of links; the player reloads the playlist if one expires.
    Segments come from the object store's own signed URLs when the courseware is there, else
    from the platform's signed segment URL; the key always from the platform."""
    now = time.time() if now is None else now
    ttl = url_ttl()
    out, segments, offset, pending = [], [], 0.0, 0.0
    for line in text.splitlines():
        if line.startswith("#EXT-X-KEY:"):
            line = line.replace(
                f'URI="{KEY_URI_PLACEHOLDER}"', f'URI="{sign_key(session_key, hls_dir, now + ttl)}"'
            )
        elif line.startswith("#EXTINF:"):
            try:
                pending = float(line[8:].split(",", 1)[0])
            except ValueError:
                pending = float(SEGMENT_SECONDS)
        elif line and not line.startswith("#"):
            if not SEGMENT_NAME.match(line):
                continue  # never point the player at anything but our own segments
            segments.append((len(out), line, now + offset + ttl))
            offset += pending
        out.append(line)
    for (i, _name, _expires), url in zip(segments, segment_urls(hls_dir, segments, now), strict=True):
        out[i] = url
    return "\n".join(out) + "\n"


def segment_urls(hls_dir: str, segments: list[tuple[int, str, float]], now: float) -> list[str]:
    """[(line, segment name, expires at)] -> the URLs the player fetches them from until then."""
    store = rendition_storage()
    if stores.is_object_store(store):
        return store.signed_urls(
            [(f"{hls_dir}/{name}", int(expires - now)) for _i, name, expires in segments],
            content_type="video/mp2t",
        )
    return [sign_segment(hls_dir, name, expires) for _i, name, expires in segments]


def segment_origins() -> list[str]:
    """The origins the player fetches segments from besides the platform itself: the object
    store's (or its CDN's) when renditions live in a bucket, none on the filesystem. The player
    page adds them to its Content-Security-Policy's connect-src and media-src."""
    from urllib.parse import urlsplit

    store = rendition_storage()
    if not stores.is_object_store(store):
        return []
    url = urlsplit(store.signed_urls([("origin-probe.ts", 60)], content_type="video/mp2t")[0])
    return [f"{url.scheme}://{url.netloc}"]


def hls_path(hls_dir: str, name: str = PLAYLIST_NAME) -> Path:
    """A rendition file in the filesystem default (tests and the nginx X-Accel location)."""
    return root() / "hls" / hls_dir / name


# --- ffmpeg -------------------------------------------------------------------------------------
# Input options for every ffmpeg/ffprobe run on an uploaded file: the file protocol only (no
# http, tcp, concat:, data:, crypto...) and the allowed container demuxers only (no hls, concat,
# image2 pattern...), so a playlist or script inside an upload can neither fetch a URL nor read
# another local file. "file:" in front of the path stops a name from being read as a protocol.
FFMPEG_INPUT_GUARD = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(policy.VIDEO_DEMUXERS)]


def _input(src) -> str:
    return "file:" + str(src)


def ffprobe_cmd(src) -> list[str]:
    return [
        "ffprobe",
        "-v",
        "error",
        *FFMPEG_INPUT_GUARD,
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=r_frame_rate:format=duration,format_name",
        "-of",
        "default=nw=1",
        _input(src),
    ]


def ffmpeg_hls_cmd(src, out_dir: Path, key_info: Path, fps: float) -> list[str]:
    """H.264/AAC, AES-128 HLS, keyframes forced every SEGMENT_SECONDS so segments come out that
    long (without -g they come out ~10 s), at most 720p."""
    gop = max(1, round(fps * SEGMENT_SECONDS))
    return [
        "ffmpeg",
        "-nostdin",
        "-y",
        "-v",
        "error",
        *FFMPEG_INPUT_GUARD,
        "-i",
        _input(src),
        "-vf",
        "scale=-2:'min(720,ih)'",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "main",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-ac",
        "2",
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_key_info_file",
        str(key_info),
        "-hls_segment_filename",
        str(out_dir / "seg_%04d.ts"),
        "-progress",
        "pipe:1",
        "-nostats",
        str(out_dir / "index.m3u8"),
    ]


def demo_source_cmd(dest, seconds: int, label: str = "") -> list[str]:
    """A test lecture from ffmpeg's own sources (no one's content): a test pattern with a
    running clock and a tone."""
    return [
        "ffmpeg",
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=640x360:rate=25:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:sample_rate=44100:duration={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(dest),
    ]


def probe_format_name(text: str) -> str:
    """format_name from ffprobe_cmd's output ("" when absent)."""
    for line in text.splitlines():
        k, _, v = line.partition("=")
        if k == "format_name":
            return v.strip()
    return ""


def sniff(path) -> bytes:
    with open(path, "rb") as f:
        return f.read(policy.VIDEO_SNIFF_BYTES)


def parse_probe(text: str) -> tuple[float, float]:
    """(duration seconds, frames per second) from ffprobe_cmd's output."""
    duration, fps = 0.0, 25.0
    for line in text.splitlines():
        k, _, v = line.partition("=")
        if k == "duration":
            try:
                duration = float(v)
            except ValueError:
                pass
        elif k == "r_frame_rate" and "/" in v:
            num, den = v.split("/", 1)
            try:
                fps = float(num) / float(den) if float(den) else fps
            except ValueError:
                pass
    return duration, (fps if 1 <= fps <= 120 else 25.0)
