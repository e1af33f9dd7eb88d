"""Test helpers of learning: chapters watched through the learning services, and a time step."""

from datetime import timedelta

from django.utils import timezone


def sec(base, n):
    """`n` seconds after `base`."""
    return base + timedelta(seconds=n)


def complete_chapters(user, course, at=None):
    """Watch every chapter to its end through the learning services (play_start + one honest
    heartbeat covering the chapter's length after that much real time)."""
    from cpe.learning.services import play_heartbeat, play_start

    at = at or timezone.now()
    for ch in course.chapters.order_by("position"):
        s = play_start(user=user, chapter_id=ch.pk, at=at)
        at = at + timedelta(seconds=ch.duration_seconds + 1)
        r = play_heartbeat(user=user, key=s.key, seq=1, start=0, position=ch.duration_seconds, at=at)
        assert r.completed, r
    return at
