"""Learner pages (a course's chapters, the player) and courseware delivery (signed playlist,
key and segments). The rules are in policy.py; access checks go through selectors/services."""

import logging
import time

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cpe.accounts.policy import hold_allows
from cpe.core import storage as stores

from . import courseware, hooks, policy, selectors, services
from .api import heartbeat_seconds
from .models import ChapterVideo, PlaySession

log = logging.getLogger(__name__)


REBUY_CODES = ("expired", "closed", "not_enrolled")


def _refusal(request, code, course=None, enrolment=None, status=403):
    rebuy = None
    if code in REBUY_CODES and enrolment is not None:
        # 重新购买 only when the product can be bought now (the buy page's and order list's rule)
        rebuy = hooks.purchase_check(request.user, enrolment.product, timezone.now())
    message = services.REFUSALS.get(code, "暂不能学习该课程。")
    if code == "expired" and rebuy is not None and not rebuy.allowed:
        message = services.REFUSALS["expired_not_on_sale"]
    return render(
        request,
        "learning/refused.html",
        {
            "message": message,
            "code": code,
            "course": course,
            "enrolment": enrolment,
            "rebuy": rebuy,
            "offer_courses": code in REBUY_CODES,
        },
        status=status,
    )


def _gate(request, course, at):
    """(enrolment, refusal response or None) for a learner opening a course's pages."""
    if request.user.is_staff:
        return None, _refusal(request, "not_learner", course)
    if not hold_allows("study", on_hold=request.user.on_hold):
        return None, _refusal(request, "on_hold", course)
    enrolment, state = selectors.enrolment_for(request.user, course, at)
    if state != "valid":
        return enrolment, _refusal(request, state, course, enrolment)
    return enrolment, None


@login_required
def course_detail(request, course_id):
    services.progress_flush(request.user.pk)
    course = selectors.published_course_or_404(course_id)
    at = timezone.now()
    enrolment, refused = _gate(request, course, at)
    if refused:
        return refused
    chapters = selectors.course_progress(request.user, course)
    return render(
        request,
        "learning/course.html",
        {
            "course": course,
            "chapters": chapters,
            "enrolment": enrolment,
            "done": sum(1 for c in chapters if c.completed),
            "year": selectors.year_progress(request.user, course.year),
        },
    )


@login_required
@never_cache
def chapter_player(request, chapter_id):
    services.progress_flush(request.user.pk)
    chapter = selectors.published_chapter_or_404(chapter_id)
    at = timezone.now()
    enrolment, refused = _gate(request, chapter.course, at)
    if refused:
        return refused
    chapters = selectors.course_progress(request.user, chapter.course)
    current = next(c for c in chapters if c.pk == chapter.pk)
    try:
        video = current.video  # course_progress read the chapters with their videos
    except ObjectDoesNotExist:
        video = None
    idx = chapters.index(current)
    user = request.user
    response = render(
        request,
        "learning/player.html",
        {
            "chapter": chapter,
            "course": chapter.course,
            "video": video,
            "enrolment": enrolment,
            "ready": bool(video and video.is_ready),
            "current": current,
            "chapters": chapters,
            "next_chapter": chapters[idx + 1] if idx + 1 < len(chapters) else None,
            "done": sum(1 for c in chapters if c.completed),
            "year": selectors.year_progress(user, chapter.course.year),
            "watermark": f"{user.name} {user.id_number_masked}".strip(),
            "heartbeat_seconds": heartbeat_seconds(),
            "seek_tolerance": policy.SEEK_TOLERANCE,
            "answer_window": policy.ATTENTION_ANSWER_WINDOW,
        },
    )
    origins = courseware.segment_origins() if video and video.is_ready else []
    if origins:  # segments come from the object store: let hls.js fetch them (django-csp)
        response._csp_update = {"connect-src": origins, "media-src": origins}
    return response


def _current_session(request, key):
    """The signed-in learner's own play session, if it is still their current stream and its
    enrolment still valid; else None."""
    if not request.user.is_authenticated:
        return None
    s = PlaySession.objects.select_related("enrolment").filter(key=key, user=request.user).first()
    if s is None or not services.session_is_current(s):
        return None
    usable, _ = services._usable(s, timezone.now())
    return s if usable else None


@require_GET
@never_cache
def playlist(request, key):
    s = _current_session(request, key)
    if s is None:
        return HttpResponseForbidden("播放会话已失效，请刷新页面。")
    video = ChapterVideo.objects.filter(chapter_id=s.chapter_id).first()
    if video is None or not video.is_ready:
        raise Http404("该章节视频尚未就绪。")
    try:
        text = courseware.read_playlist(video.hls_dir)
    except OSError:
        raise Http404("该章节视频尚未就绪。") from None
    except (BotoCoreError, ClientError) as exc:  # the object store is down or refuses us
        log.warning("playlist of %s unavailable: %s", video.hls_dir, exc)
        return stores.store_unavailable()
    body = courseware.signed_playlist(text, hls_dir=video.hls_dir, session_key=s.key)
    resp = HttpResponse(body, content_type="application/vnd.apple.mpegurl")
    resp["Cache-Control"] = "no-store"
    return resp


@require_GET
@never_cache
def key(request, token):
    """The AES key: only for the signed-in learner's current play session of this rendition."""
    data = courseware.verify_key(token)
    if data is None:
        return HttpResponseForbidden("链接已失效。")
    s = _current_session(request, data.get("s", ""))
    if s is None:
        return HttpResponseForbidden("播放会话已失效。")
    video = ChapterVideo.objects.filter(chapter_id=s.chapter_id, hls_dir=data.get("d")).first()
    if video is None or not video.key_hex:
        return HttpResponseForbidden("链接已失效。")
    resp = HttpResponse(bytes.fromhex(video.key_hex), content_type="application/octet-stream")
    resp["Cache-Control"] = "no-store, private"
    return resp


@require_GET
def segment(request, token):
    """An encrypted segment behind the platform's signed, short-lived URL (the filesystem
    default; with an object store the playlist points at the store's own signed URLs, and an
    old platform URL is redirected to one). Production on the filesystem hands the file to nginx
    (X-Accel-Redirect, COURSEWARE_ACCEL_PREFIX); Django itself streams it only when
    COURSEWARE_SERVE_DIRECT (default: DEBUG) is on."""
    now = time.time()
    data = courseware.verify_segment(token, now=now)
    if data is None:
        return HttpResponseForbidden("链接已失效。")
    rel = f"{data['d']}/{data['f']}"
    store = courseware.rendition_storage()
    store_url = stores.signed_url(
        store, rel, expires_in=int(float(data["e"]) - now), content_type="video/mp2t"
    )
    if store_url:
        return HttpResponseRedirect(store_url)
    prefix = getattr(settings, "COURSEWARE_ACCEL_PREFIX", "")
    if prefix:
        resp = HttpResponse(content_type="video/mp2t")
        resp["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + rel
        return resp
    if not getattr(settings, "COURSEWARE_SERVE_DIRECT", settings.DEBUG):
        raise Http404()
    try:
        handle = store.open(rel, "rb")
    except (FileNotFoundError, IsADirectoryError):
        raise Http404() from None
    resp = FileResponse(handle, content_type="video/mp2t")
    resp["Cache-Control"] = "private, max-age=600"
    return resp
