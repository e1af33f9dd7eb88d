from celery import shared_task


@shared_task
def enrolment_reminders():
    from .services import enrolment_reminders_send

    return enrolment_reminders_send()


@shared_task(acks_late=True)
def transcode_chapter_video(video_id: int):
    """Idempotent (see services.video_transcode): safe to deliver twice."""
    from .services import video_transcode

    return video_transcode(video_id)


@shared_task(ignore_result=True)
def flush_heartbeats():
    """The heartbeat write-behind (ADR 0003 "Speed"): every play session whose Redis state is newer
    than PostgreSQL, written idempotently. Scheduled every heartbeat interval; a no-op on the ORM
    path."""
    from . import hotpath

    if not hotpath.enabled():
        return 0
    return hotpath.flush_dirty()
