import json
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from cpe.core.masking import mask_email, mask_mobile

from .models import Channel, MessageStatus, OutboundMessage


def message_queue(
    *,
    channel: str,
    to: str,
    body: str,
    event: str,
    subject: str = "",
    user: AbstractBaseUser | None = None,
    at: datetime | None = None,
    params: dict | None = None,
) -> OutboundMessage:
    """Record a message in the caller's transaction; deliver it after commit. `params`: the
    values a template-based SMS provider fills its approved template with (e.g. {"code": …});
    stored encrypted like the body."""
    from .policy import relative_links
    from .tasks import message_deliver

    bare = relative_links(body)
    if bare:  # a programming error: the message would carry a link that opens nothing
        raise ValueError(
            f"message {event!r}: links must be absolute (cpe.core.documents.absolute_url): {bare}"
        )
    masked = mask_mobile(to) if channel == Channel.SMS else mask_email(to)
    msg = OutboundMessage.objects.create(
        channel=channel,
        to=to,
        to_masked=masked,
        subject=subject,
        body=body,
        event=event,
        params=json.dumps(params, ensure_ascii=False) if params else "",
        # AUTH_USER_MODEL is accounts' User, which notices (below accounts) does not import.
        user=user,  # type: ignore[misc]
        created_at=at or timezone.now(),
    )
    transaction.on_commit(lambda: message_deliver.delay(msg.pk))
    return msg


def message_send(message_id: int) -> bool:
    """Hand one queued message to its provider; idempotent (a sent message is skipped). A
    failure is recorded (status, error, attempts) and then raised, for the task to retry."""
    with transaction.atomic():
        msg = OutboundMessage.objects.select_for_update().get(pk=message_id)
        if msg.status == MessageStatus.SENT:
            return True
        msg.attempts += 1
        try:
            if msg.channel == Channel.SMS:
                provider_id = import_string(settings.SMS_BACKEND)().send(
                    msg.to, msg.body, event=msg.event, params=json.loads(msg.params) if msg.params else None
                )
            else:
                EmailMessage(
                    msg.subject, msg.body, settings.DEFAULT_FROM_EMAIL, [msg.to], connection=get_connection()
                ).send()
                provider_id = ""
        except Exception as exc:  # provider failures are retried by the task
            failure = exc
            msg.status, msg.last_error = MessageStatus.FAILED, str(exc)[:1000]
            msg.save(update_fields=["status", "last_error", "attempts"])
        else:
            msg.status, msg.sent_at, msg.provider_id = MessageStatus.SENT, timezone.now(), provider_id
            msg.save(update_fields=["status", "sent_at", "provider_id", "attempts"])
            return True
    raise failure  # after the commit: raising inside would have rolled the record back
