from celery import shared_task


@shared_task(bind=True, max_retries=6, acks_late=True)
def ais_person_check_task(self, user_id: int):
    """Check a learner against the AIS. Retry-safe: a check reads the AIS and overwrites our
    record of its answer, so running it twice (acks_late redelivery) does no harm. A failed
    check is tried again with policy.check_retry_countdown waits, except in eager mode (the
    embedded default runs tasks inline: the page must not wait out the backoff; the sweep
    and the 重新核验 button try again)."""
    from . import policy
    from .clients import get_client
    from .errors import ReportingError
    from .services import ais_person_check
    from .states import CheckResult

    eager = bool(self.request.is_eager)
    try:
        person = ais_person_check(
            user_id=user_id, client=get_client(max_retries=policy.INTERACTIVE_MAX_RETRIES) if eager else None)
    except ReportingError as exc:
        return exc.code
    if person.last_result == CheckResult.FAILED and not eager and self.request.retries < self.max_retries:
        raise self.retry(countdown=policy.check_retry_countdown(self.request.retries))
    return person.last_result


@shared_task(acks_late=True)
def ais_recheck_sweep_task():
    """Periodic (CELERY_BEAT_SCHEDULE): queue the checks that are due again."""
    from .services import ais_recheck_sweep

    return ais_recheck_sweep()
