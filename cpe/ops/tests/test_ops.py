"""The operations door (config/ops_wsgi.py): health and metrics paths only from inside, request
ids, metrics counted on both heartbeat doors, readiness failing part by part. Requests go
through the WSGI application production runs (config.wsgi), not Django's test client."""

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections, connection
from django.test import override_settings
from django.utils import timezone
from prometheus_client.registry import REGISTRY

from config.ops_wsgi import wrap
from cpe.ops import health, logs

OUTSIDE = "203.0.113.9"
NGINX = "10.20.0.1"


@pytest.fixture(scope="module")
def app():
    from config.wsgi import application

    return application


def call(app, path, *, method="GET", remote="127.0.0.1", headers=None, body=b""):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": remote,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json" if body else "",
    }
    environ.update(headers or {})
    seen = {}

    def start_response(status, hdrs, exc_info=None):
        seen["status"], seen["headers"] = int(status[:3]), dict(hdrs)

    # As Django's test client does: the test's transaction must outlive the request, so the
    # end-of-request signal does not close the connection here.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = app(environ, start_response)
        out = b"".join(result)
        if hasattr(result, "close"):
            result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return seen["status"], seen["headers"], out


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- who may read the operations paths ------------------------------------------------------------
@pytest.mark.parametrize("path", ["/-/live", "/-/ready", "/-/metrics"])
@pytest.mark.django_db
def test_operations_paths_answer_inside_and_are_a_404_outside(app, path):
    status, _, _ = call(app, path)
    assert status == 200
    status, _, body = call(app, path, remote=OUTSIDE)
    assert status == 404
    assert b"cpe_" not in body and b"database" not in body


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1, OPS_ALLOWED_NETWORKS=["127.0.0.0/8", "10.30.0.0/16"])
def test_behind_nginx_the_browsers_address_decides_not_nginxs(app):
    # nginx (on loopback) forwards a browser from outside: refused, whatever the browser wrote.
    forged = {"HTTP_X_FORWARDED_FOR": f"127.0.0.1, {OUTSIDE}"}
    assert call(app, "/-/metrics", headers=forged)[0] == 404
    assert call(app, "/-/metrics", headers={"HTTP_X_FORWARDED_FOR": OUTSIDE})[0] == 404
    # the monitoring host inside, through nginx
    assert call(app, "/-/metrics", remote=NGINX, headers={"HTTP_X_FORWARDED_FOR": "10.30.4.5"})[0] == 200


@pytest.mark.django_db
@override_settings(OPS_ALLOWED_NETWORKS=[])
def test_an_empty_allow_list_admits_nobody(app):
    assert call(app, "/-/live")[0] == 404


def test_unknown_operations_path_is_a_404_inside_too(app):
    assert call(app, "/-/debug")[0] == 404


# --- readiness ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_ready_names_every_part(app):
    status, _, body = call(app, "/-/ready")
    data = json.loads(body)
    assert status == 200 and data["status"] == "ok"
    assert set(data["checks"]) == {"database", "redis", "storage", "migrations"}
    assert set(data["checks"].values()) == {"ok"}


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:9/0")
def test_ready_is_503_when_redis_is_down(app):
    status, _, body = call(app, "/-/ready")
    data = json.loads(body)
    assert status == 503 and data["status"] == "unavailable"
    assert data["checks"]["redis"].startswith("fail")
    assert data["checks"]["database"] == "ok"
    assert "127.0.0.1:9" not in body.decode()  # no address, no message: the log has it


@pytest.mark.django_db
def test_ready_is_503_while_a_migration_is_unapplied(app, monkeypatch):
    monkeypatch.setattr(health, "_migrated", [False])
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'reporting' AND name = "
            "(SELECT max(name) FROM django_migrations WHERE app = 'reporting')"
        )
    status, _, body = call(app, "/-/ready")
    assert status == 503
    assert json.loads(body)["checks"]["migrations"].startswith("fail")
    assert health._migrated == [False]


# --- request ids and logs ---------------------------------------------------------------------------
def _logging_inner(environ, start_response):
    logging.getLogger("cpe.test").warning("inside the request", extra={"order": "X1"})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger("cpe.test")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_the_proxys_request_id_is_kept_and_on_every_log_line(json_log):
    _, headers, _ = call(
        wrap(_logging_inner), "/x/", headers={"HTTP_X_REQUEST_ID": "0123456789abcdef0123456789abcdef"}
    )
    assert headers["X-Request-ID"] == "0123456789abcdef0123456789abcdef"
    line = json.loads(json_log.getvalue().strip())
    assert line["request_id"] == "0123456789abcdef0123456789abcdef"
    assert line["message"] == "inside the request" and line["order"] == "X1" and line["level"] == "WARNING"
    logging.getLogger("cpe.test").warning("after the request")
    assert json.loads(json_log.getvalue().strip().splitlines()[-1])["request_id"] == logs.NO_REQUEST


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_a_trusted_proxy_the_clients_id_is_not_taken(json_log):
    _, headers, _ = call(wrap(_logging_inner), "/x/", headers={"HTTP_X_REQUEST_ID": "attacker-chosen-id-1"})
    assert headers["X-Request-ID"] != "attacker-chosen-id-1" and len(headers["X-Request-ID"]) == 32
    assert json.loads(json_log.getvalue())["request_id"] == headers["X-Request-ID"]


@pytest.mark.parametrize(
    "bad", ["short", "has space in it", "x" * 65, 'quote"0123456789', "newline\n0123456789"]
)
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_malformed_request_id_is_replaced(bad):
    _, headers, _ = call(wrap(_logging_inner), "/x/", headers={"HTTP_X_REQUEST_ID": bad})
    assert headers["X-Request-ID"] != bad and len(headers["X-Request-ID"]) == 32


def test_json_lines_carry_the_exception():
    record = logging.LogRecord("cpe.x", logging.ERROR, __file__, 1, "failed %s", ("once",), None)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "failed once" and "ValueError: boom" in line["exc"]


# --- metrics --------------------------------------------------------------------------------------------
KEY = uuid.uuid4().hex
BEAT = f"/api/learning/sessions/{KEY}/heartbeat"
BODY = b'{"seq": 1, "start": 0, "position": 30}'


@pytest.mark.django_db
def test_refused_heartbeats_are_counted_on_both_doors(app):
    from cpe.learning import hotpath

    if not hotpath.enabled():
        pytest.skip("the token door needs the Redis hot path (REDIS_URL)")
    before = sample("cpe_heartbeats_total", result="refused", status="401")
    accepted = sample("cpe_heartbeats_total", result="accepted", status="200")
    # the token door (config/hotpath_wsgi.py): a token that does not sign this session
    status, _, _ = call(app, BEAT, method="POST", body=BODY, headers={"HTTP_X_PLAY_TOKEN": "not-a-token"})
    assert status == 401
    assert sample("cpe_heartbeats_total", result="refused", status="401") == before + 1
    # the documented API route (Django, ninja): no token, no session: refused
    forbidden = sample("cpe_heartbeats_total", result="refused", status="403")
    status, _, _ = call(app, BEAT, method="POST", body=BODY)
    assert status == 403
    assert sample("cpe_heartbeats_total", result="refused", status="403") == forbidden + 1
    assert sample("cpe_heartbeats_total", result="refused", status="401") == before + 1
    assert sample("cpe_heartbeats_total", result="accepted", status="200") == accepted


def test_an_answered_heartbeat_is_counted_as_accepted():
    def inner(environ, start_response):
        start_response("200 OK", [])
        return [b"{}"]

    before = sample("cpe_heartbeats_total", result="accepted", status="200")
    call(wrap(inner), BEAT, method="POST", body=BODY)
    call(wrap(inner), BEAT + "x", method="POST", body=BODY)  # not a heartbeat path
    call(wrap(inner), BEAT, method="GET")  # not a heartbeat
    assert sample("cpe_heartbeats_total", result="accepted", status="200") == before + 1


def test_latency_is_recorded_by_area_and_made_up_paths_share_one_label():
    def inner(environ, start_response):
        start_response("404 Not Found", [])
        return [b""]

    other = sample("cpe_http_request_duration_seconds_count", area="other", method="GET", status="4xx")
    for n in range(3):
        call(wrap(inner), f"/wp-admin-{n}/x.php")
    assert (
        sample("cpe_http_request_duration_seconds_count", area="other", method="GET", status="4xx")
        == other + 3
    )
    assert (
        sample("cpe_http_request_duration_seconds_count", area="wp-admin-0", method="GET", status="4xx") == 0
    )


@pytest.mark.django_db
def test_payment_notifications_are_counted_by_outcome(app):
    from cpe.orders.models import PaymentNotification

    before = sample("cpe_payment_notifications_total", gateway="alipay", outcome="rejected")
    status, _, _ = call(
        app,
        "/orders/notify/alipay/",
        method="POST",
        body=b"trade_status=TRADE_SUCCESS&sign=forged",
        headers={"CONTENT_TYPE": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert PaymentNotification.objects.get().outcome.startswith("rejected")
    assert sample("cpe_payment_notifications_total", gateway="alipay", outcome="rejected") == before + 1


@pytest.fixture
def celery_queue():
    import redis

    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("needs a Redis broker (REDIS_URL)")
    client = redis.Redis.from_url(url)
    client.delete("celery")
    yield client
    client.delete("celery")


def _metric(text: str, name: str) -> float:
    lines = [ln for ln in text.splitlines() if ln.startswith(name + " ") or ln.startswith(name + "{")]
    assert len(lines) == 1, lines
    return float(lines[0].rsplit(" ", 1)[1])


@pytest.mark.django_db
def test_outbox_depth_and_age_and_the_celery_queue_at_scrape_time(app, celery_queue, verified_learner):
    from cpe.catalog.models import Product, ProductKind, TrainingYear
    from cpe.credits.tests.factories import make_record
    from cpe.reporting.models import AisReport

    ty = TrainingYear.objects.create(
        year=2026, required_hours=90, professional_min_hours=60, credits_per_hour=1
    )
    Product.objects.create(
        code="2026-ANNUAL", title="2026 年度课程", kind=ProductKind.ANNUAL, year=ty, price_fen=19800
    )
    text = call(app, "/-/metrics")[2].decode()
    assert (
        _metric(text, "cpe_ais_outbox_depth") == 0 and _metric(text, "cpe_ais_outbox_oldest_age_seconds") == 0
    )
    now = timezone.now()
    for n, (state, minutes) in enumerate(
        [("pending", 10), ("retrying", 3), ("sent", 60), ("waiting_person", 90)]
    ):
        record = make_record(verified_learner, ty, code=f"P{n}")
        AisReport.objects.create(
            kind="credit",
            record=record,
            idempotency_key=f"k{n}",
            state=state,
            receipt_no="R" if state == "sent" else "",
            created_at=now - timedelta(minutes=minutes),
            updated_at=now,
        )
    celery_queue.rpush("celery", b"a", b"b", b"c")
    text = call(app, "/-/metrics")[2].decode()
    assert _metric(text, "cpe_ais_outbox_depth") == 2  # sent and waiting for the person: not waiting on us
    assert 600 <= _metric(text, "cpe_ais_outbox_oldest_age_seconds") < 3600
    assert _metric(text, 'cpe_celery_queue_length{queue="celery"}') == 3
    assert _metric(text, 'cpe_scrape_error{part="outbox"}') == 0


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0")
def test_a_scrape_answers_when_the_broker_is_down(app):
    status, _, body = call(app, "/-/metrics")
    assert status == 200
    assert _metric(body.decode(), 'cpe_scrape_error{part="celery"}') == 1


def test_several_processes_are_added_up(tmp_path):
    """gunicorn's workers are processes: with PROMETHEUS_MULTIPROC_DIR each one's counts reach
    the scrape, whichever process answers it."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from prometheus_client import Counter; "
        "Counter('cpe_heartbeats_total', 'x', ['result', 'status']).labels('accepted', '200').inc({n})"
    )
    for n in (2, 5):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True)
    scrape = (
        "from prometheus_client import CollectorRegistry, generate_latest, multiprocess; "
        "r = CollectorRegistry(); multiprocess.MultiProcessCollector(r); "
        "print(generate_latest(r).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'cpe_heartbeats_total{result="accepted",status="200"} 7.0' in out
