from celery import shared_task


@shared_task(ignore_result=True)
def closed_accounts_purge():
    """Daily: delete archives whose purge_after has passed (rules R11.3; each purge audited) and
    wipe sent closing confirmations from the outbox. Idempotent."""
    from .closing import archives_purge, outbox_scrub_closed

    return {"purged": archives_purge(), "outbox_scrubbed": outbox_scrub_closed()}


@shared_task(ignore_result=True)
def sessions_clear_expired():
    """Hourly: delete web sessions past their expiry from the database (decision 0018)."""
    from .sessions import SessionStore

    return {"deleted": SessionStore.clear_expired()}
