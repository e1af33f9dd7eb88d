"""The HTTP adapter against the simulator with faults on command: what is retried, how long it
waits, what it never retries, and what it records."""

import json
from datetime import datetime, timezone

import pytest

from cpe.core.tests.ports import free_port
from cpe.reporting.clients import get_client
from cpe.reporting.clients.base import (
    AisAuthFailed,
    AisConflict,
    AisInvalid,
    AisNotFound,
    AisUnavailable,
    CreditReport,
)
from cpe.reporting.clients.http import DEMO_PROVIDER_CODE, DEMO_SECRET, HttpAisClient, parse_retry_after
from cpe.reporting.tests.simulator import TEST_PROVIDER

ZHANG = {"id_number": "150102199003071237", "name": "张明", "region_code": "150100"}


@pytest.fixture
def zhang(ais_sim):
    return ais_sim.seed(ZHANG)[0]


def report(person_id, key="rep-2026-000001", **changes):
    data = dict(
        idempotency_key=key,
        person_id=person_id,
        id_number=ZHANG["id_number"],
        name="张明",
        year=2026,
        course_code="2026-P01",
        course_title="《企业会计准则》重点解读",
        category="professional",
        hours=24,
        credits=24,
        passed_at=datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc),
    )
    data.update(changes)
    return CreditReport(**data)


def api_requests(sim):
    return [(r["method"], r["path"].split("?")[0], r["status"]) for r in sim.requests()]


def test_the_four_calls(ais_sim, zhang):
    client = ais_sim.client()
    found = client.lookup_person(id_number=ZHANG["id_number"], name="张明")
    assert found.found and found.person_id == zhang["person_id"] and found.region_code == "150100"
    assert client.lookup_person(id_number=ZHANG["id_number"], name="张三").found is False
    receipt = client.report_credit(report(found.person_id))
    assert receipt.created and receipt.receipt_no.startswith("AIS")
    again = client.report_credit(report(found.person_id))
    assert again == receipt.__class__(receipt_no=receipt.receipt_no, created=False)
    [item] = client.list_credits(person_id=found.person_id, year=2026)
    assert item.receipt_no == receipt.receipt_no and item.status == "recorded" and item.hours == 24
    rev = client.reverse_credit(
        receipt_no=receipt.receipt_no, idempotency_key="rev-2026-000001", reason="退款"
    )
    assert rev.receipt_no == receipt.receipt_no and rev.reversal_no
    assert client.list_credits(person_id=found.person_id, year=2026)[0].status == "reversed"
    assert client.sleeps == []


def test_500s_then_success(ais_sim, zhang):
    ais_sim.fault(mode="500", count=2)
    client = ais_sim.client(rng=lambda: 0.0, backoff_base=0.5)
    assert client.lookup_person(id_number=ZHANG["id_number"], name="张明").found
    assert client.sleeps == [0.25, 0.5]  # equal jitter, rng 0: half of 0.5·2^(n-1)
    assert [r[2] for r in api_requests(ais_sim)] == [500, 500, 200]
    assert [e["status"] for e in client.exchanges] == [500, 500, 200]
    assert [e["attempt"] for e in client.exchanges] == [1, 2, 3]


def test_429_waits_exactly_retry_after(ais_sim, zhang):
    ais_sim.fault(mode="429", count=1, retry_after=7)
    client = ais_sim.client()
    assert client.lookup_person(id_number=ZHANG["id_number"], name="张明").found
    assert client.sleeps == [7.0]
    assert [r[2] for r in api_requests(ais_sim)] == [429, 200]


def test_a_retry_after_too_long_to_wait_gives_up_at_once_with_the_wait(ais_sim, zhang):
    ais_sim.fault(mode="429", count=1, retry_after=600)
    client = ais_sim.client(retry_after_max=60)
    with pytest.raises(AisUnavailable) as caught:
        client.lookup_person(id_number=ZHANG["id_number"], name="张明")
    assert caught.value.retry_after == 600 and caught.value.code == "retry_later"
    assert client.sleeps == [] and len(ais_sim.requests()) == 1


def test_retries_are_exhausted(ais_sim, zhang):
    ais_sim.fault(mode="503", rate=1.0)
    client = ais_sim.client(max_retries=3, rng=lambda: 1.0, backoff_base=1, backoff_cap=3)
    with pytest.raises(AisUnavailable) as caught:
        client.lookup_person(id_number=ZHANG["id_number"], name="张明")
    assert caught.value.status == 503 and caught.value.code == "exhausted"
    assert client.sleeps == [1, 2, 3]  # rng 1: the ceiling, capped at 3
    assert len(ais_sim.requests()) == 4


def test_slow_answer_past_the_read_timeout_is_retried_and_the_resend_gets_the_same_receipt(ais_sim, zhang):
    # The AIS records the credit, then answers too late: the adapter times out and sends again.
    ais_sim.fault(mode="slow", count=1, delay=2.0, path="/api/v1/credits", after_processing=True)
    client = ais_sim.client(timeout=(2, 0.6))
    receipt = client.report_credit(report(zhang["person_id"]))
    assert receipt.created is False  # 200: the first attempt was recorded
    assert client.exchanges[0]["status"] is None and client.exchanges[0]["error"].startswith("timeout")
    assert len(client.sleeps) == 1
    assert [c["receipt_no"] for c in ais_sim.credits()] == [receipt.receipt_no]


def test_dropped_connection_is_retried(ais_sim, zhang):
    ais_sim.fault(mode="drop", count=2)
    client = ais_sim.client()
    assert client.lookup_person(id_number=ZHANG["id_number"], name="张明").found
    assert len(client.sleeps) == 2
    assert [e["error"].split(":")[0] for e in client.exchanges] == ["connection", "connection", ""]


def test_dropped_after_recording_is_reported_exactly_once(ais_sim, zhang):
    ais_sim.fault(mode="drop", count=1, path="/api/v1/credits", after_processing=True)
    client = ais_sim.client()
    receipt = client.report_credit(report(zhang["person_id"]))
    assert receipt.created is False
    assert len(ais_sim.credits()) == 1 and [r[2] for r in api_requests(ais_sim)] == [None, 200]


def test_connection_refused_is_retried_then_unavailable():
    port = free_port()  # nobody listens there
    sleeps, seen = [], []
    client = HttpAisClient(
        base_url=f"http://127.0.0.1:{port}",
        provider_code="X",
        secret="Y",
        max_retries=2,
        sleep=sleeps.append,
        recorder=lambda **e: seen.append(e),
    )
    with pytest.raises(AisUnavailable):
        client.lookup_person(id_number=ZHANG["id_number"], name="张明")
    assert len(sleeps) == 2 and len(seen) == 3 and all(e["status"] is None for e in seen)


@pytest.mark.parametrize(
    "call, error, status",
    [
        ("invalid", AisInvalid, 400),
        ("unknown_person", AisNotFound, 404),
        ("conflict", AisConflict, 409),
        ("unknown_receipt", AisNotFound, 404),
        ("auth", AisAuthFailed, 401),
    ],
)
def test_4xx_answers_are_never_retried(ais_sim, zhang, call, error, status):
    client = ais_sim.client()
    if call == "conflict":
        ais_sim.client().report_credit(report(zhang["person_id"]))
        ais_sim.admin("DELETE", "/_sim/requests")
    with pytest.raises(error) as caught:
        if call == "invalid":
            client.report_credit(report(zhang["person_id"], category="elective"))
        elif call == "unknown_person":
            client.report_credit(report("NMP000000000000"))
        elif call == "conflict":
            client.report_credit(report(zhang["person_id"], hours=12))
        elif call == "unknown_receipt":
            client.reverse_credit(receipt_no="AIS0", idempotency_key="rev-0000000001", reason="退款")
        else:
            ais_sim.client(secret="wrong").lookup_person(id_number=ZHANG["id_number"], name="张明")
    assert caught.value.status == status and not caught.value.retryable
    assert len(ais_sim.requests()) == 1  # the simulator saw exactly one request
    assert client.sleeps == []


def test_a_stale_clock_is_refused_and_not_retried(ais_sim, zhang):
    import time

    client = ais_sim.client(clock=lambda: time.time() - 1000)
    with pytest.raises(AisAuthFailed) as caught:
        client.lookup_person(id_number=ZHANG["id_number"], name="张明")
    assert caught.value.code == "stale_timestamp" and len(ais_sim.requests()) == 1


def test_every_attempt_gets_a_fresh_nonce(ais_sim, zhang):
    ais_sim.fault(mode="500", count=1)  # before authentication: the nonce is not used up...
    ais_sim.fault(mode="slow", count=1, delay=1.5, after_processing=True)  # ...this one is
    client = ais_sim.client(timeout=(2, 0.6))
    assert client.lookup_person(id_number=ZHANG["id_number"], name="张明").found
    assert [r[2] for r in api_requests(ais_sim)] == [500, 200, 200]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("7", 7.0),
        ("0", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after(value, now=now) == expected


def test_backoff_grows_and_is_capped():
    client = HttpAisClient(
        base_url="http://127.0.0.1:1",
        rng=lambda: 0.5,
        backoff_base=1,
        backoff_cap=10,
        recorder=lambda **e: None,
    )
    assert [client.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0.75, 1.5, 3.0, 6.0, 7.5, 7.5]


# --- with Django settings and the database ------------------------------------------------------
def test_get_client_reads_settings_at_call_time(settings):
    settings.AIS_BASE_URL = "http://127.0.0.1:9999/"
    settings.AIS_TIMEOUT = 4
    client = get_client(max_retries=0)
    assert client.base_url == "http://127.0.0.1:9999" and client.timeout == 4.0 and client.max_retries == 0
    settings.AIS_TIMEOUT = "3.05,10"
    assert get_client().timeout == (3.05, 10.0)
    settings.AIS_TIMEOUT = ("7",)
    assert get_client().timeout == 7.0
    del settings.AIS_BASE_URL, settings.AIS_PROVIDER_CODE
    client = get_client()
    assert client.base_url == "http://127.0.0.1:8900" and client.provider_code == DEMO_PROVIDER_CODE


def test_demo_credentials_match_the_simulator():
    from ais_sim.server import DEMO_PROVIDER_CODE as SIM_CODE
    from ais_sim.server import DEMO_SECRET as SIM_SECRET

    assert (DEMO_PROVIDER_CODE, DEMO_SECRET) == (SIM_CODE, SIM_SECRET)


@pytest.mark.django_db
def test_exchanges_are_recorded_with_personal_data_masked(ais_settings, ais_sim, zhang):
    from cpe.reporting.models import AisExchange

    ais_sim.fault(mode="500", count=1)
    client = get_client(sleep=lambda s: None)
    found = client.lookup_person(id_number=ZHANG["id_number"], name="张明")
    client.report_credit(report(found.person_id))
    client.list_credits(person_id=found.person_id, year=2026)
    rows = list(AisExchange.objects.order_by("id"))
    assert [(r.purpose, r.status, r.attempt) for r in rows] == [
        ("lookup", 500, 1),
        ("lookup", 200, 2),
        ("report", 201, 1),
        ("list", 200, 1),
    ]
    assert rows[1].request_body == {"id_number": "150102********1237", "name": "张*"}
    assert rows[2].idempotency_key == "rep-2026-000001" and rows[2].answer_body["receipt_no"]
    stored = json.dumps([[r.request_body, r.answer_body, r.path, r.error] for r in rows], ensure_ascii=False)
    assert ZHANG["id_number"] not in stored and "张明" not in stored
    assert TEST_PROVIDER not in stored
