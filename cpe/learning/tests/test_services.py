"""Play sessions and heartbeats on a real database, with injected times (rules R7.2-7.4). Each
refusal also checks what did not change."""

from datetime import timedelta

import pytest

from cpe.core.models import AuditEvent
from cpe.learning import policy, services
from cpe.learning.errors import LearningError
from cpe.learning.models import ChapterProgress, PlaySession, SuspiciousEvent

from .factories import sec

pytestmark = pytest.mark.django_db


def _start(learner, chapter, at, **kw):
    kw.setdefault("rand", lambda: 0.5)
    return services.play_start(user=learner, chapter_id=chapter.pk, at=at, ip=kw.pop("ip", "10.0.0.1"), **kw)


def _beat(learner, s, at, seq, start, position, ip="10.0.0.1"):
    return services.play_heartbeat(
        user=learner, key=s.key, seq=seq, start=start, position=position, ip=ip, at=at
    )


def _progress(learner, chapter):
    return ChapterProgress.objects.get(user=learner, chapter=chapter)


def test_steady_play_completes_the_chapter_once_and_audits_it(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    assert s.resume_at == 0 and s.enrolment == enrolment
    results = [_beat(learner, s, sec(now, t), i, t - 30, t) for i, t in enumerate((30, 60, 90, 120), 1)]
    assert [r.credited for r in results] == [30, 30, 30, 30]
    assert [r.completed_now for r in results] == [False, False, False, True]
    p = _progress(learner, chapter)
    assert p.completed_at == sec(now, 120) and p.watched_seconds == 120 and p.intervals == [[0, 120]]
    assert AuditEvent.objects.filter(event_type="learning.chapter_completed").count() == 1
    # Watching again earns nothing new and audits nothing more.
    s2 = _start(learner, chapter, sec(now, 200))
    assert s2.resume_at == 0  # complete and at the end: start again from the beginning
    _beat(learner, s2, sec(now, 230), 1, 0, 30)
    assert AuditEvent.objects.filter(event_type="learning.chapter_completed").count() == 1
    assert not SuspiciousEvent.objects.exists()


def test_heartbeats_are_not_audited(learner, chapter, enrolment, now):
    before = AuditEvent.objects.count()
    s = _start(learner, chapter, now)
    _beat(learner, s, sec(now, 30), 1, 0, 30)
    assert AuditEvent.objects.count() == before


def test_fabricated_heartbeats_earn_no_more_than_real_time(learner, chapter, enrolment, now):
    """A script claims 2x progress every 30 s, then fires 50 reports within one second."""
    s = _start(learner, chapter, now)
    for i, t in enumerate((30, 60), 1):
        _beat(learner, s, sec(now, t), i, (t - 30) * 2, t * 2)
    for j in range(50):
        _beat(learner, s, sec(now, 60 + j * 0.02), 3 + j, 0, 120)
    p = _progress(learner, chapter)
    s.refresh_from_db()
    real = 60 + 49 * 0.02
    assert p.watched_seconds <= real + 1e-6 and s.credited_seconds <= real + 1e-6
    assert p.completed_at is None
    assert set(SuspiciousEvent.objects.values_list("kind", flat=True)) == {"rate"}


def test_replayed_heartbeat_earns_nothing(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    _beat(learner, s, sec(now, 30), 1, 0, 30)
    r = _beat(learner, s, sec(now, 60), 1, 0, 30)
    assert r.credited == 0 and r.reason == policy.REPLAY
    assert _progress(learner, chapter).watched_seconds == 30
    assert SuspiciousEvent.objects.get().kind == "replay"


def test_seek_ahead_earns_nothing_and_is_recorded(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    _beat(learner, s, sec(now, 30), 1, 0, 30)
    r = _beat(learner, s, sec(now, 60), 2, 90, 120)
    assert r.credited == 0 and r.reason == policy.SKIP and not r.completed
    assert _progress(learner, chapter).intervals == [[0, 30]]
    ev = SuspiciousEvent.objects.get()
    assert ev.kind == "skip" and ev.user == learner and ev.detail["start"] == 90


def test_second_player_takes_over_and_the_first_is_told_why(learner, chapter, enrolment, now):
    first = _start(learner, chapter, now)
    _beat(learner, first, sec(now, 30), 1, 0, 30)
    second = _start(learner, chapter, sec(now, 40))
    first.refresh_from_db()
    assert first.superseded_at == sec(now, 40) and PlaySession.objects.get(pk=second.pk).is_open
    with pytest.raises(LearningError) as exc:
        _beat(learner, first, sec(now, 60), 2, 30, 60)
    assert exc.value.code == "superseded" and exc.value.status == 409 and "其他窗口" in exc.value.message
    # What the first played until the takeover (30 to 40 s) is kept, nothing after it; where the
    # learner resumes stays the new player's business.
    assert _progress(learner, chapter).intervals == [[0, 40]]
    assert _progress(learner, chapter).last_position == 30
    ev = SuspiciousEvent.objects.get()
    assert ev.kind == "concurrent" and ev.get_kind_display() == "被其他窗口或设备接管播放"
    with pytest.raises(LearningError):
        _beat(learner, first, sec(now, 90), 3, 60, 90)
    assert _progress(learner, chapter).intervals == [[0, 40]]
    assert second.resume_at == 30
    assert _beat(learner, second, sec(now, 70), 1, 30, 60).credited == 20  # 40-60: new coverage


def test_another_learners_session_is_refused(learner, other_learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    for call in (
        lambda: _beat(other_learner, s, sec(now, 30), 1, 0, 30),
        lambda: services.attention_answer(user=other_learner, key=s.key, token="x", at=now),
        lambda: services.play_end(user=other_learner, key=s.key, at=now),
    ):
        with pytest.raises(LearningError) as exc:
            call()
        assert exc.value.code == "no_session"
    s.refresh_from_db()
    assert s.last_seq == 0 and s.ended_at is None and _progress(learner, chapter).watched_seconds == 0


def test_not_enrolled_is_refused(other_learner, chapter, enrolment, now):
    with pytest.raises(LearningError) as exc:
        _start(other_learner, chapter, now)
    assert exc.value.code == "not_enrolled" and not PlaySession.objects.exists()


def test_expired_enrolment_cannot_start_nor_earn(learner, chapter, enrolment, now):
    s = _start(learner, chapter, enrolment.valid_until - timedelta(seconds=40))
    r = _beat(learner, s, enrolment.valid_until - timedelta(seconds=10), 1, 0, 30)
    assert r.credited == 30
    with pytest.raises(LearningError) as exc:  # the second after the window ends
        _beat(learner, s, enrolment.valid_until, 2, 30, 40)
    assert exc.value.code == "expired"
    assert _progress(learner, chapter).watched_seconds == 30
    with pytest.raises(LearningError) as exc:
        _start(learner, chapter, enrolment.valid_until)
    assert exc.value.code == "expired"


def test_refunded_enrolment_cannot_play(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    type(enrolment).objects.filter(pk=enrolment.pk).update(status="closed", closed_at=now)
    with pytest.raises(LearningError) as exc:
        _beat(learner, s, sec(now, 30), 1, 0, 30)
    assert exc.value.code == "closed"
    with pytest.raises(LearningError) as exc:
        _start(learner, chapter, sec(now, 31))
    assert exc.value.code == "closed"
    assert _progress(learner, chapter).watched_seconds == 0


def test_hold_blocks_study(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    learner.correction_reason = "姓名与身份证不符"
    for call in (lambda: _start(learner, chapter, now), lambda: _beat(learner, s, sec(now, 30), 1, 0, 30)):
        with pytest.raises(LearningError) as exc:
            call()
        assert exc.value.code == "on_hold"
    assert PlaySession.objects.count() == 1 and _progress(learner, chapter).watched_seconds == 0


def test_attention_check_stops_credit_until_answered(learner, chapter, enrolment, now):
    chapter.duration_seconds = 3000
    chapter.save()
    s = _start(learner, chapter, now, rand=lambda: 0.0)  # first check after 630 s of play
    t, seq, r = 0, 0, None
    while t < 630:
        t, seq = t + 30, seq + 1
        r = _beat(learner, s, sec(now, t), seq, t - 30, t)
    assert r.attention_token and r.attention_deadline == 60
    issued = t
    r = _beat(learner, s, sec(now, issued + 30), seq + 1, t, t + 30)  # inside the answer window
    assert r.credited == 30 and r.attention_token
    r = _beat(learner, s, sec(now, issued + 61), seq + 2, t + 30, t + 61)
    assert r.credited == 0 and r.reason == policy.CHECK_OVERDUE and r.attention_deadline < 0
    with pytest.raises(LearningError):
        services.attention_answer(user=learner, key=s.key, token="wrong", at=sec(now, issued + 90))
    services.attention_answer(
        user=learner, key=s.key, token=r.attention_token, at=sec(now, issued + 90), rand=lambda: 0.5
    )
    r = _beat(learner, s, sec(now, issued + 120), seq + 3, t + 30, t + 60)
    assert r.credited == 30 and not r.attention_token
    s.refresh_from_db()
    assert s.play_until_check == pytest.approx(policy.ATTENTION_CHECK_EVERY - 30)


def test_ip_change_mid_session_is_recorded_not_penalised(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now, ip="10.0.0.1")
    r = _beat(learner, s, sec(now, 30), 1, 0, 30, ip="10.9.9.9")
    assert r.credited == 30
    assert SuspiciousEvent.objects.get().kind == "ip_change"
    _beat(learner, s, sec(now, 60), 2, 30, 60, ip="10.9.9.8")
    assert SuspiciousEvent.objects.count() == 1  # once per session and kind


def test_ended_session_earns_nothing(learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    services.play_end(user=learner, key=s.key, at=sec(now, 10))
    services.play_end(user=learner, key=s.key, at=sec(now, 11))  # idempotent
    with pytest.raises(LearningError) as exc:
        _beat(learner, s, sec(now, 30), 1, 0, 30)
    assert exc.value.code == "ended" and _progress(learner, chapter).watched_seconds == 0


def test_staff_cannot_study(chapter, enrolment, now, django_user_model):
    staff = django_user_model.objects.create_user("editor", "x-pass-2026", name="编辑", is_staff=True)
    with pytest.raises(LearningError) as exc:
        _start(staff, chapter, now)
    assert exc.value.code == "not_learner"
