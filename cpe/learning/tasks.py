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
