from celery import shared_task

from .audit import audit_head_record as _record


@shared_task
def audit_head_record():
    """Beat: append the audit chain's head to settings.AUDIT_HEADS_FILE (outside the database)."""
    record = _record()
    return record and record["seq"]
