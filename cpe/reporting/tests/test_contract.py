"""Contract tests: docs/ais-interface.md over real HTTP against the simulator. Requests are built
by hand with the adapter's signing function (cpe.reporting.clients.http.sign), so the
adapter's signature and the simulator's check are verified against each other."""

import json
import secrets
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from cpe.core.tests.ports import free_port
from cpe.reporting.clients.http import sign
from cpe.reporting.tests.simulator import TEST_PROVIDER, TEST_SECRET, start_simulator, stop_simulator

ZHANG = {"id_number": "150102199003071237", "name": "张明", "region_code": "150100"}


def send(
    sim,
    method,
    target,
    body=None,
    *,
    ts=None,
    nonce=None,
    secret=TEST_SECRET,
    provider=TEST_PROVIDER,
    signed_target=None,
    raw=None,
):
    raw = raw if raw is not None else (b"" if body is None else json.dumps(body, ensure_ascii=False).encode())
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(12)
    headers = {
        "X-AIS-Provider": provider,
        "X-AIS-Timestamp": ts,
        "X-AIS-Nonce": nonce,
        "X-AIS-Signature": sign(secret, method, signed_target or target, ts, nonce, raw),
        "Content-Type": "application/json",
    }
    return requests.request(method, sim.url + target, data=raw or None, headers=headers, timeout=10)


def credit_body(person_id, key="rep-0001-abcdef", **changes):
    body = {
        "idempotency_key": key,
        "person_id": person_id,
        "id_number": ZHANG["id_number"],
        "name": ZHANG["name"],
        "year": 2026,
        "course_code": "2026-P01",
        "course_title": "《企业会计准则》重点解读",
        "category": "professional",
        "hours": 24,
        "credits": 24,
        "passed_at": "2026-03-02T10:15:00+08:00",
    }
    body.update(changes)
    return body


@pytest.fixture
def zhang(ais_sim):
    return ais_sim.seed(ZHANG)[0]


# --- authentication -------------------------------------------------------------------------
def test_signed_lookup_finds_a_seeded_person_and_not_an_unknown_one(ais_sim, zhang):
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", {"id_number": ZHANG["id_number"], "name": "张明"})
    assert r.status_code == 200
    assert r.json() == {
        "found": True,
        "person_id": zhang["person_id"],
        "region_code": "150100",
        "status": "active",
    }
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", {"id_number": ZHANG["id_number"], "name": "张敏"})
    assert r.json() == {"found": False}  # the name must match too
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", {"id_number": "150102199003071210", "name": "张明"})
    assert r.json() == {"found": False}


def test_bad_signature_is_refused(ais_sim, zhang):
    body = {"id_number": ZHANG["id_number"], "name": "张明"}
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", body, secret="not-the-secret")
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    # A body changed after signing.
    raw = json.dumps(body).encode()
    ts, nonce = str(int(time.time())), secrets.token_hex(12)
    headers = {
        "X-AIS-Provider": TEST_PROVIDER,
        "X-AIS-Timestamp": ts,
        "X-AIS-Nonce": nonce,
        "X-AIS-Signature": sign(TEST_SECRET, "POST", "/api/v1/persons/lookup", ts, nonce, raw),
    }
    r = requests.post(
        ais_sim.url + "/api/v1/persons/lookup",
        data=raw.replace(b"1237", b"1210"),
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"


def test_unknown_provider_and_missing_headers_are_refused(ais_sim):
    r = send(
        ais_sim,
        "POST",
        "/api/v1/persons/lookup",
        {"id_number": ZHANG["id_number"], "name": "张明"},
        provider="SOMEONE-ELSE",
    )
    assert r.status_code == 401 and r.json()["code"] == "unknown_provider"
    r = requests.post(ais_sim.url + "/api/v1/persons/lookup", json={}, timeout=10)
    assert r.status_code == 401


def test_the_query_string_is_signed(ais_sim, zhang):
    target = f"/api/v1/credits?person_id={zhang['person_id']}&year=2026"
    assert send(ais_sim, "GET", target).status_code == 200
    r = send(
        ais_sim, "GET", target, signed_target=f"/api/v1/credits?person_id={zhang['person_id']}&year=2025"
    )
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"


@pytest.mark.parametrize("offset, accepted", [(-301, False), (301, False), (-299, True), (299, True)])
def test_timestamp_more_than_300_seconds_off_is_refused(ais_sim, zhang, offset, accepted):
    r = send(
        ais_sim,
        "POST",
        "/api/v1/persons/lookup",
        {"id_number": ZHANG["id_number"], "name": "张明"},
        ts=int(time.time()) + offset,
    )
    if accepted:
        assert r.status_code == 200
    else:
        assert r.status_code == 401 and r.json()["code"] == "stale_timestamp"


def test_a_reused_nonce_is_refused(ais_sim, zhang):
    ts, nonce = int(time.time()), secrets.token_hex(12)
    body = {"id_number": ZHANG["id_number"], "name": "张明"}
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body, ts=ts, nonce=nonce).status_code == 200
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", body, ts=ts, nonce=nonce)  # a replay
    assert r.status_code == 401 and r.json()["code"] == "nonce_reused"
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", body, nonce="short")
    assert r.status_code == 401 and r.json()["code"] == "bad_nonce"


def test_a_refused_signature_does_not_use_up_the_nonce(ais_sim, zhang):
    nonce = secrets.token_hex(12)
    body = {"id_number": ZHANG["id_number"], "name": "张明"}
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body, nonce=nonce, secret="x").status_code == 401
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body, nonce=nonce).status_code == 200


# --- credits ----------------------------------------------------------------------------------
def test_report_then_idempotent_resend_returns_the_same_receipt(ais_sim, zhang):
    body = credit_body(zhang["person_id"])
    first = send(ais_sim, "POST", "/api/v1/credits", body)
    assert first.status_code == 201
    receipt = first.json()["receipt_no"]
    again = send(ais_sim, "POST", "/api/v1/credits", body)
    assert again.status_code == 200 and again.json() == {"receipt_no": receipt}
    reordered = dict(reversed(list(body.items())))  # key order is not a different body
    assert send(ais_sim, "POST", "/api/v1/credits", reordered).json() == {"receipt_no": receipt}
    assert [c["receipt_no"] for c in ais_sim.credits()] == [receipt]


def test_same_key_with_a_changed_body_is_a_conflict(ais_sim, zhang):
    assert send(ais_sim, "POST", "/api/v1/credits", credit_body(zhang["person_id"])).status_code == 201
    r = send(ais_sim, "POST", "/api/v1/credits", credit_body(zhang["person_id"], hours=12, credits=12))
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    assert len(ais_sim.credits()) == 1


def test_unknown_person_is_404(ais_sim, zhang):
    r = send(ais_sim, "POST", "/api/v1/credits", credit_body("NMP000000000000"))
    assert r.status_code == 404 and r.json()["code"] == "unknown_person"
    assert ais_sim.credits() == []


@pytest.mark.parametrize(
    "change, code",
    [
        ({"category": "elective"}, "invalid_field"),
        ({"hours": 0}, "invalid_field"),
        ({"hours": "24"}, "invalid_field"),
        ({"year": "2026"}, "invalid_field"),
        ({"passed_at": "2026-03-02 10:15"}, "invalid_field"),
        ({"id_number": "15010219900307123"}, "invalid_field"),
        ({"idempotency_key": "short"}, "invalid_field"),
        ({"mobile": "13800000001"}, "unknown_field"),
        ({"name": "张敏"}, "person_mismatch"),
    ],
)
def test_invalid_fields_are_400_with_code_and_message(ais_sim, zhang, change, code):
    r = send(ais_sim, "POST", "/api/v1/credits", credit_body(zhang["person_id"], **change))
    assert r.status_code == 400
    assert r.json()["code"] == code and r.json()["message"]
    assert ais_sim.credits() == []


def test_a_missing_field_and_a_non_json_body_are_400(ais_sim, zhang):
    body = credit_body(zhang["person_id"])
    del body["course_title"]
    assert send(ais_sim, "POST", "/api/v1/credits", body).status_code == 400
    assert send(ais_sim, "POST", "/api/v1/credits", raw=b"not json").status_code == 400


def test_reversal_is_idempotent_and_listed(ais_sim, zhang):
    receipt = send(ais_sim, "POST", "/api/v1/credits", credit_body(zhang["person_id"])).json()["receipt_no"]
    rev = {"idempotency_key": "rev-0001-abcdef", "reason": "退款撤销学时"}
    first = send(ais_sim, "POST", f"/api/v1/credits/{receipt}/reversal", rev)
    assert first.status_code == 200 and first.json()["receipt_no"] == receipt
    again = send(ais_sim, "POST", f"/api/v1/credits/{receipt}/reversal", rev)
    assert again.status_code == 200 and again.json() == first.json()
    other = send(
        ais_sim, "POST", f"/api/v1/credits/{receipt}/reversal", {**rev, "idempotency_key": "rev-0002-abcdef"}
    )
    assert other.status_code == 409
    assert send(ais_sim, "POST", "/api/v1/credits/AIS0000/reversal", rev).status_code == 404
    listed = send(ais_sim, "GET", f"/api/v1/credits?person_id={zhang['person_id']}&year=2026")
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["receipt_no"] == receipt and item["status"] == "reversed" and item["hours"] == 24


def test_listing_needs_a_known_person_and_a_year(ais_sim, zhang):
    assert send(ais_sim, "GET", f"/api/v1/credits?person_id={zhang['person_id']}").status_code == 400
    assert send(ais_sim, "GET", "/api/v1/credits?person_id=NMP0&year=2026").status_code == 404
    r = send(ais_sim, "GET", f"/api/v1/credits?person_id={zhang['person_id']}&year=2025")
    assert r.json() == {"items": []}


def test_the_simulator_logs_every_api_request(ais_sim, zhang):
    send(ais_sim, "POST", "/api/v1/persons/lookup", {"id_number": ZHANG["id_number"], "name": "张明"})
    send(ais_sim, "POST", "/api/v1/persons/lookup", {}, secret="x")
    assert [(r["method"], r["path"], r["status"]) for r in ais_sim.requests()] == [
        ("POST", "/api/v1/persons/lookup", 200),
        ("POST", "/api/v1/persons/lookup", 401),
    ]


# --- faults on command --------------------------------------------------------------------------
def test_faults_answer_429_500_and_drop_then_recover(ais_sim, zhang):
    body = {"id_number": ZHANG["id_number"], "name": "张明"}
    ais_sim.fault(mode="429", count=1, retry_after=9)
    r = send(ais_sim, "POST", "/api/v1/persons/lookup", body)
    assert r.status_code == 429 and r.headers["Retry-After"] == "9"
    ais_sim.fault(mode="500", count=1)
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body).status_code == 500
    ais_sim.fault(mode="drop", count=1)
    with pytest.raises(requests.ConnectionError):
        send(ais_sim, "POST", "/api/v1/persons/lookup", body)
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body).status_code == 200
    ais_sim.fault(mode="500", rate=1.0)
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body).status_code == 500
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body).status_code == 500
    ais_sim.admin("DELETE", "/_sim/faults")
    assert send(ais_sim, "POST", "/api/v1/persons/lookup", body).status_code == 200


def test_a_fault_can_target_one_path(ais_sim, zhang):
    ais_sim.fault(mode="500", count=1, path="/api/v1/credits")
    assert (
        send(
            ais_sim, "POST", "/api/v1/persons/lookup", {"id_number": ZHANG["id_number"], "name": "张明"}
        ).status_code
        == 200
    )
    assert send(ais_sim, "POST", "/api/v1/credits", credit_body(zhang["person_id"])).status_code == 500


def test_bad_fault_rules_are_refused(ais_sim):
    r = ais_sim.http.post(ais_sim.url + "/_sim/faults", json={"mode": "explode"}, timeout=10)
    assert r.status_code == 400


# --- the command line ---------------------------------------------------------------------------
def test_cli_port_from_AIS_PORT_and_demo_seed(tmp_path):
    port = free_port()
    sim = start_simulator(tmp_path, "--seed", "demo", env_extra={"AIS_PORT": str(port)}, port_args=())
    try:
        assert sim.url == f"http://127.0.0.1:{port}"
        r = send(sim, "POST", "/api/v1/persons/lookup", {"id_number": "150102199003071237", "name": "张明"})
        assert r.json()["found"] is True
    finally:
        stop_simulator(sim)


def test_state_survives_a_restart(tmp_path):
    sim = start_simulator(tmp_path, "--seed", "demo")
    try:
        person = sim.admin("GET", "/_sim/persons")["persons"][0]
        assert send(sim, "POST", "/api/v1/credits", credit_body(person["person_id"])).status_code == 201
    finally:
        stop_simulator(sim)
    sim = start_simulator(tmp_path)  # same --db file
    try:
        assert send(sim, "POST", "/api/v1/credits", credit_body(person["person_id"])).status_code == 200
    finally:
        stop_simulator(sim)


def test_passed_at_from_the_adapter_is_accepted(ais_sim, zhang):
    from cpe.reporting.clients.base import CreditReport

    at = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc) + timedelta(microseconds=5)
    body = CreditReport(
        idempotency_key="rep-x-000001",
        person_id=zhang["person_id"],
        id_number=ZHANG["id_number"],
        name="张明",
        year=2026,
        course_code="C1",
        course_title="T",
        category="public",
        hours=10.0,
        credits=10,
        passed_at=at,
    ).as_json()
    assert body["hours"] == 10 and body["passed_at"] == "2026-03-02T02:15:00+00:00"
    assert send(ais_sim, "POST", "/api/v1/credits", body).status_code == 201
