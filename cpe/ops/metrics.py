"""Prometheus metrics (prometheus-client).

Counted per request, in the WSGI door in front of everything (config/ops_wsgi.py), at no
database or Redis cost: request latency by area of the site, heartbeats accepted and refused
on both heartbeat doors (the token door in config/hotpath_wsgi.py and the documented API
route), payment notifications by outcome (when the notification's row gets its outcome).
Read at scrape time, from PostgreSQL and Redis: the AIS outbox's depth and the age of its
oldest waiting row, the Celery queue's length.

Several gunicorn workers: PROMETHEUS_MULTIPROC_DIR names a directory each process writes its
counters to (config/gunicorn.conf.py sets and empties it); a scrape, answered by any worker,
adds every process's files up (prometheus-client's multiprocess mode)."""

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

from cpe.orders.models import PaymentNotification
from cpe.reporting.models import AisReport

# Areas of the site: the first path segment, among the site's top-level prefixes (config/urls.py);
# anything else is "other", so a scanner's made-up paths cannot grow the label set.
AREAS = frozenset(
    {
        "accounts",
        "agreement",
        "admin",
        "api",
        "courses",
        "orders",
        "learn",
        "exams",
        "credits",
        "reporting",
        "invoices",
        "sandbox",
        "support",
        "notices",
        "restricted",
        "static",
        "-",
    }
)
HEARTBEAT_AREA = "heartbeat"
METHODS = frozenset({"GET", "POST", "HEAD"})

REQUEST_SECONDS = Histogram(
    "cpe_http_request_duration_seconds",
    "Time to answer a request (until the response starts), by area",
    ["area", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HEARTBEATS = Counter(
    "cpe_heartbeats_total",
    "Learning heartbeats answered: accepted (200) or refused (the HTTP status)",
    ["result", "status"],
)
PAYMENT_NOTIFICATIONS = Counter(
    "cpe_payment_notifications_total", "Payment notifications by gateway and outcome", ["gateway", "outcome"]
)
# The outbox states still to be sent (reporting.states.ReportState): a growing depth or age
# means the AIS or the worker is not keeping up. Rows waiting for the person or for another
# report are waiting on something outside the platform and are not counted.
OUTBOX_WAITING = ("pending", "sending", "retrying")


def area_of(path: str) -> str:
    first = path[1:].split("/", 1)[0]
    return first if first in AREAS else ("home" if first == "" else "other")


# The labelled children, looked up once per label set (prometheus-client's labels() costs more
# than the observation itself). The label sets are bounded (areas, methods, status codes).
_latency: dict = {}
_beats: dict = {}


def observe_request(path: str, method: str, status: int, seconds: float, heartbeat: bool) -> None:
    key = (
        HEARTBEAT_AREA if heartbeat else area_of(path),
        method if method in METHODS else "other",
        status // 100,
    )
    child = _latency.get(key)
    if child is None:
        child = _latency[key] = REQUEST_SECONDS.labels(key[0], key[1], f"{key[2]}xx")
    child.observe(seconds)
    if heartbeat:
        child = _beats.get(status)
        if child is None:
            child = _beats[status] = HEARTBEATS.labels(
                "accepted" if status == 200 else "refused", str(status)
            )
        child.inc()


def connect_signals() -> None:
    from django.db.models.signals import post_save

    post_save.connect(
        _payment_notification_saved, sender=PaymentNotification, dispatch_uid="cpe.ops.payment_notification"
    )


def _payment_notification_saved(sender, instance, created, update_fields=None, **kwargs):
    """A notification's row is created as "received" and saved once more with what became of
    it (orders.services.notification_receive): that second save is counted. The outcome's
    code before any ":" keeps the label set small (rejected:bad_signature -> rejected)."""
    if not created and update_fields and "outcome" in update_fields:
        PAYMENT_NOTIFICATIONS.labels(instance.gateway, (instance.outcome or "").split(":", 1)[0][:40]).inc()


class LiveCollector:
    """What is read at scrape time. Each part fails on its own (its metric is left out, and
    cpe_scrape_error says which): a scrape must answer while PostgreSQL or Redis is down."""

    def collect(self):
        errors = GaugeMetricFamily(
            "cpe_scrape_error", "1 when a live metric could not be read", labels=["part"]
        )
        try:
            depth, age = outbox_state()
            yield GaugeMetricFamily("cpe_ais_outbox_depth", "AIS reports waiting to be sent", value=depth)
            yield GaugeMetricFamily(
                "cpe_ais_outbox_oldest_age_seconds",
                "Age of the oldest AIS report waiting to be sent (0: none)",
                value=age,
            )
            errors.add_metric(["outbox"], 0)
        except Exception:  # noqa: BLE001 - reported as a metric
            errors.add_metric(["outbox"], 1)
        try:
            queues = celery_queue_lengths()
            g = GaugeMetricFamily(
                "cpe_celery_queue_length", "Tasks waiting in a Celery queue", labels=["queue"]
            )
            for name, n in queues.items():
                g.add_metric([name], n)
            yield g
            errors.add_metric(["celery"], 0)
        except Exception:  # noqa: BLE001
            errors.add_metric(["celery"], 1)
        yield errors


def outbox_state() -> tuple[int, float]:
    from django.db.models import Count, Min
    from django.utils import timezone

    row = AisReport.objects.filter(state__in=OUTBOX_WAITING).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    age = (timezone.now() - row["oldest"]).total_seconds() if row["oldest"] else 0.0
    return row["n"], max(age, 0.0)


def celery_queue_lengths() -> dict:
    """Length of each Celery queue on a Redis broker (a list per queue, named after it; a
    routed queue such as CPE_AUDIT_HEAD_QUEUE too). Empty on any other broker."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return {}
    import redis

    names = {"celery"} | {
        r.get("queue")
        for r in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values()
        if isinstance(r, dict) and r.get("queue")
    }
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        ordered = sorted(names)
        for name in ordered:
            pipe.llen(name)
        return dict(zip(ordered, pipe.execute(), strict=True))
    finally:
        client.close()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> tuple[bytes, str]:
    """The exposition text: every process's counters (multiprocess mode) or this process's,
    then the live metrics."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    live = CollectorRegistry()
    live.register(LiveCollector())
    return counted + generate_latest(live), CONTENT_TYPE_LATEST


def now() -> float:
    return time.perf_counter()
