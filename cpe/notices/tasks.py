from celery import shared_task


@shared_task(bind=True, max_retries=8, acks_late=True)
def message_deliver(self, message_id: int):
    from .services import message_send

    try:
        message_send(message_id)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc
