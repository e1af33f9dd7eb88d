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
            user_id=user_id, client=get_client(max_retries=policy.INTERACTIVE_MAX_RETRIES) if eager else None
        )
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


@shared_task(acks_late=True)
def ais_report_send_task(report_id: int, due: bool = False):
    """Send one outbox row (services.report_send). Retry-safe: the row is claimed under its
    lock, the stored body is resent with its idempotency key, and a redelivered or duplicated
    task finds the row sent or claimed and does nothing. An outage reschedules this task with
    the policy's backoff (services._record_answer); in eager mode (the embedded default) the
    adapter gets one in-call retry and the sweep does the rest."""
    from . import policy
    from .clients import get_client
    from .services import report_send

    eager = bool(ais_report_send_task.request.is_eager)
    report = report_send(
        report_id=report_id,
        due=due,
        client=get_client(max_retries=policy.INTERACTIVE_MAX_RETRIES) if eager else None,
    )
    return report.state if report is not None else "skipped"


@shared_task(acks_late=True)
def ais_report_sweep_task():
    """Periodic (CELERY_BEAT_SCHEDULE): resend due, retrying and stuck outbox rows."""
    from .services import report_sweep

    return report_sweep()


@shared_task(acks_late=True)
def ais_export_task(job_id: int):
    """Write a year's results to the exports storage (services.export_run). Idempotent: a job
    already done or running elsewhere is left alone."""
    from .services import export_run

    job = export_run(job_id=job_id)
    return job.status if job is not None else "skipped"


@shared_task
def exports_expire_task():
    """Periodic (CELERY_BEAT_SCHEDULE): delete export files past policy.EXPORT_RETENTION and mark
    their jobs expired (services.exports_expire)."""
    from .services import exports_expire

    return exports_expire()
