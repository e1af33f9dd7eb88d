"""rules R9: the credit outbox over real HTTP against the simulator. Every record ends up at the
AIS exactly once (checked in the simulator's own store) whatever the AIS does meanwhile."""

import json
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cpe.accounts.states import AisStatus
from cpe.core.models import AuditEvent
from cpe.credits.tests.factories import make_record
from cpe.reporting import policy
from cpe.reporting.models import AisReport
from cpe.reporting.selectors import report_states_for_user
from cpe.reporting.services import (
    _claim,
    ais_person_check,
    report_enqueue_for_record,
    report_retry,
    report_send,
    report_sweep,
    reversal_enqueue_for_record,
)
from cpe.reporting.states import ReportKind, ReportState


@pytest.fixture
def found(ais_settings, ais_sim, register_learner):
    """A learner the AIS knows (checked through the real service)."""
    user = register_learner(name="张三")
    ais_sim.seed({"id_number": user.id_number, "name": user.name})
    ais_person_check(user_id=user.pk)
    user.refresh_from_db()
    assert user.ais_status == AisStatus.FOUND
    return user


def queued(user, year, code="P1", **kw):
    record = make_record(user, year, code, **kw)
    return record, report_enqueue_for_record(record)


def assert_once(sim, reports):
    """The simulator's store holds exactly one credit per report, under its key and receipt."""
    store = sim.credits()
    keys = [c["idempotency_key"] for c in store]
    for report in reports:
        report.refresh_from_db()
        assert report.state == ReportState.SENT, (report.idempotency_key, report.state, report.last_error)
        assert keys.count(report.idempotency_key) == 1
        assert (
            next(c for c in store if c["idempotency_key"] == report.idempotency_key)["receipt_no"]
            == report.receipt_no
        )
    assert len(store) == len(set(keys))


def posts(sim, key=None):
    """POSTs of credits the simulator saw (a fault answered before parsing carries no key)."""
    return [
        r
        for r in sim.requests()
        if r["method"] == "POST"
        and r["path"] == "/api/v1/credits"
        and (key is None or r["idempotency_key"] in (key, ""))
    ]


# --- enqueue and send ---------------------------------------------------------------------------------
def test_found_learner_is_reported_after_commit(found, year, ais_sim, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record, report = queued(found, year)
        assert report.state == ReportState.PENDING and report.attempts == 0
    report.refresh_from_db()
    assert report.state == ReportState.SENT and report.receipt_no.startswith("AIS")
    assert report.idempotency_key == f"cpe-credit-{record.uid}" and report.last_status == 201
    body = json.loads(report.body)
    assert body["id_number"] == found.id_number and body["hours"] == 24 and body["year"] == 2026
    assert_once(ais_sim, [report])
    # The stored body is encrypted at rest (it holds the ID number and the name).
    with connection.cursor() as cur:
        cur.execute("SELECT body FROM reporting_aisreport WHERE id = %s", [report.pk])
        raw = cur.fetchone()[0]
    assert found.id_number not in raw and "张三" not in raw
    assert AuditEvent.objects.filter(event_type="ais.report_sent", subject_id=str(report.pk)).exists()
    transfer = AuditEvent.objects.filter(event_type="privacy.transfer", data__purpose="credit_report").get()
    assert found.id_number not in json.dumps(transfer.data, ensure_ascii=False)
    assert report_states_for_user(found) == {record.pk: ("已上报", report.receipt_no)}


def test_enqueue_twice_changes_nothing(found, year):
    record, report = queued(found, year)
    assert report_enqueue_for_record(record).pk == report.pk
    assert AisReport.objects.count() == 1


def test_resend_sends_the_stored_bytes(found, year, ais_sim):
    """Identity edited after the report was written: the resend still sends the stored body
    (the AIS would answer a rebuilt, different body with 409)."""
    record, report = queued(found, year)
    ais_sim.fault(mode="drop", after_processing=True, count=1)
    report_send(report_id=report.pk, client=ais_sim.client(max_retries=0))
    report.refresh_from_db()
    assert report.state == ReportState.RETRYING
    type(found).objects.filter(pk=found.pk).update(name="张三丰")
    report_send(report_id=report.pk, client=ais_sim.client(), due=True)
    report.refresh_from_db()
    assert report.state == ReportState.SENT and report.last_status == 200  # the AIS already had it
    assert_once(ais_sim, [report])


# --- faults: in the end exactly once ----------------------------------------------------------------
@pytest.mark.parametrize(
    "fault, client_kw",
    [
        ({"mode": "500", "count": 2}, {}),
        ({"mode": "503", "count": 1}, {}),
        ({"mode": "429", "count": 2, "retry_after": 1}, {}),
        ({"mode": "slow", "delay": 2, "count": 1, "after_processing": True}, {"timeout": (1, 1)}),
        ({"mode": "drop", "count": 2, "after_processing": True}, {}),
        ({"mode": "drop", "count": 1}, {}),
    ],
    ids=["500", "503", "429-retry-after", "slow-past-timeout", "drop-after-processing", "drop-before"],
)
def test_faults_within_one_send(found, year, ais_sim, fault, client_kw):
    record, report = queued(found, year)
    ais_sim.fault(path="/api/v1/credits", method="POST", **fault)
    client = ais_sim.client(**client_kw)
    report_send(report_id=report.pk, client=client)
    assert_once(ais_sim, [report])
    assert len(posts(ais_sim, report.idempotency_key)) >= 2
    if fault["mode"] == "429":
        assert client.sleeps == [1.0, 1.0]  # Retry-After honoured


def test_outage_longer_than_the_retries_is_retried_by_the_sweep(found, year, ais_sim):
    record, report = queued(found, year)
    ais_sim.fault(mode="500", count=10, path="/api/v1/credits")
    at = timezone.now()
    report_send(report_id=report.pk, client=ais_sim.client(max_retries=1), at=at)
    report.refresh_from_db()
    assert report.state == ReportState.RETRYING and report.attempts == 1 and report.last_status == 500
    assert (
        report.next_attempt_at == at + timedelta(seconds=policy.REPORT_RETRY_COUNTDOWNS[0])
        or report.next_attempt_at > at
    )
    assert report_send(report_id=report.pk, client=ais_sim.client()) is None  # not due yet: untouched
    assert report_sweep(at=timezone.now()) == 0
    ais_sim.admin("DELETE", "/_sim/faults")
    assert report_sweep(at=report.next_attempt_at + timedelta(seconds=1)) == 1  # eager task sends it
    assert_once(ais_sim, [report])
    assert report_states_for_user(found)[record.pk].label == "已上报"


def test_long_retry_after_is_rescheduled_not_slept(found, year, ais_sim):
    record, report = queued(found, year)
    ais_sim.fault(mode="429", count=1, retry_after=600, path="/api/v1/credits")
    at = timezone.now()
    client = ais_sim.client()
    report_send(report_id=report.pk, client=client, at=at)
    report.refresh_from_db()
    assert client.sleeps == [] and report.state == ReportState.RETRYING
    assert report.next_attempt_at >= at + timedelta(seconds=600)
    assert report_states_for_user(found)[record.pk].label == "待上报"


def test_worker_killed_between_send_and_record(found, year, ais_sim):
    """The AIS recorded the credit but the worker died before our row was updated: the row
    stays `sending`; after the lease the sweep resends the same bytes and gets the same receipt."""
    record, report = queued(found, year)
    at = timezone.now()
    claimed, _ = _claim(report.pk, at, False)
    first = ais_sim.client().send_report(claimed.body)  # ... and then the worker is killed
    report.refresh_from_db()
    assert report.state == ReportState.SENDING and report.receipt_no == ""
    assert report_send(report_id=report.pk, client=ais_sim.client()) is None  # leased: left alone
    assert report_sweep(at=at + timedelta(minutes=1)) == 0
    assert report_sweep(at=at + policy.SEND_LEASE + timedelta(seconds=1)) == 1
    report.refresh_from_db()
    assert report.receipt_no == first.receipt_no and report.attempts == 2 and report.last_status == 200
    assert_once(ais_sim, [report])


def test_drop_after_processing_then_sweep(found, year, ais_sim):
    """The same, with the connection dropped after the AIS committed (the task sees an outage)."""
    record, report = queued(found, year)
    ais_sim.fault(mode="drop", after_processing=True, count=1)
    report_send(report_id=report.pk, client=ais_sim.client(max_retries=0))
    report.refresh_from_db()
    assert report.state == ReportState.RETRYING and len(ais_sim.credits()) == 1
    report_sweep(at=report.next_attempt_at)
    assert_once(ais_sim, [report])


def test_many_records_under_random_faults_end_up_once_each(found, year, ais_sim):
    reports = [queued(found, year, f"C{i}", hours=8)[1] for i in range(8)]
    ais_sim.fault(mode="drop", rate=0.3, after_processing=True, path="/api/v1/credits")
    ais_sim.fault(mode="500", rate=0.3, path="/api/v1/credits")
    rng = random.Random(6)
    at = timezone.now()
    for report in reports:
        report_send(report_id=report.pk, client=ais_sim.client(max_retries=1, rng=rng.random), at=at)
    for _ in range(30):
        if not AisReport.objects.exclude(state=ReportState.SENT).exists():
            break
        at += timedelta(hours=7)
        report_sweep(at=at)
    ais_sim.admin("DELETE", "/_sim/faults")
    report_sweep(at=at + timedelta(hours=7))
    assert_once(ais_sim, reports)


def test_final_rejection_is_failed_with_the_answer_and_staff_can_retry(
    found, year, ais_sim, admin_user, django_capture_on_commit_callbacks
):
    record, report = queued(found, year)
    ais_sim.admin("DELETE", f"/_sim/persons/{found.id_number}")
    report_send(report_id=report.pk, client=ais_sim.client())
    report.refresh_from_db()
    assert (
        report.state == ReportState.FAILED
        and report.last_status == 404
        and "unknown_person" in report.last_error
    )
    assert len(posts(ais_sim, report.idempotency_key)) == 1  # never retried
    assert report_states_for_user(found)[record.pk] == ("上报失败", "")
    assert report_sweep(at=timezone.now() + timedelta(days=1)) == 0
    ais_sim.seed({"id_number": found.id_number, "name": found.name})  # same stable person_id
    with django_capture_on_commit_callbacks(execute=True):
        report_retry(report_id=report.pk, actor=admin_user)
    assert_once(ais_sim, [report])
    assert AuditEvent.objects.filter(event_type="ais.report_retry", subject_id=str(report.pk)).exists()


# --- a person found later ---------------------------------------------------------------------------------
def test_waiting_person_is_reported_once_a_recheck_finds_them(
    ais_settings, ais_sim, register_learner, year, django_capture_on_commit_callbacks
):
    user = register_learner(name="王五")
    ais_person_check(user_id=user.pk)
    record, report = queued(user, year)
    assert report.state == ReportState.WAITING_PERSON and report.body == ""
    assert report_sweep(at=timezone.now() + timedelta(days=1)) == 0
    assert (
        report_states_for_user(user)[record.pk].label == "待上报（未纳入）"
    )  # the person is not in the AIS yet
    ais_sim.seed({"id_number": user.id_number, "name": user.name})
    with django_capture_on_commit_callbacks(execute=True):
        ais_person_check(user_id=user.pk)
    assert_once(ais_sim, [report])
    assert json.loads(report.body)["person_id"] == user.ais_person.person_id


# --- reversals ----------------------------------------------------------------------------------------------
def revoke(record, reason="退款"):
    from cpe.credits.services import credit_record_revoke

    record = credit_record_revoke(record=record, reason=reason, at=timezone.now())
    return record, reversal_enqueue_for_record(record)


def test_reversal_after_a_revocation(found, year, ais_sim, django_capture_on_commit_callbacks):
    record, report = queued(found, year)
    report_send(report_id=report.pk, client=ais_sim.client())
    with django_capture_on_commit_callbacks(execute=True):
        record, reversal = revoke(record)
    assert reversal.kind == ReportKind.REVERSAL
    reversal.refresh_from_db()
    assert reversal.state == ReportState.SENT and reversal.reversal_no.startswith("REV")
    report.refresh_from_db()
    (item,) = ais_sim.credits()
    assert item["status"] == "reversed" and item["receipt_no"] == report.receipt_no
    assert item["reversal_no"] == reversal.reversal_no
    assert reversal_enqueue_for_record(record).pk == reversal.pk  # the hook twice: no-op
    assert report_states_for_user(found)[record.pk].label == "已撤回"


def test_revoked_before_sending_cancels_the_report(found, year, ais_sim):
    record, report = queued(found, year)
    record, reversal = revoke(record)
    report.refresh_from_db()
    assert reversal is None and report.state == ReportState.CANCELLED
    assert report_send(report_id=report.pk, client=ais_sim.client()) is None
    assert ais_sim.credits() == [] and posts(ais_sim) == []


def test_revoked_while_the_credit_is_retrying_reverses_after_the_receipt(
    found, year, ais_sim, django_capture_on_commit_callbacks
):
    record, report = queued(found, year)
    ais_sim.fault(mode="drop", after_processing=True, count=1)
    report_send(report_id=report.pk, client=ais_sim.client(max_retries=0))  # the AIS may have it
    record, reversal = revoke(record)
    assert reversal.state == ReportState.WAITING_CREDIT
    assert report_send(report_id=reversal.pk, client=ais_sim.client()) is None
    report.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        report_sweep(at=report.next_attempt_at)  # the credit, then (released after commit) its reversal
    reversal.refresh_from_db()
    assert reversal.state == ReportState.SENT
    assert_once(ais_sim, [report])
    assert ais_sim.credits()[0]["status"] == "reversed"


# --- the learner's view -------------------------------------------------------------------------------------
def test_report_states_is_one_query(found, year, ais_sim, django_assert_num_queries):
    for i in range(3):
        queued(found, year, f"Q{i}")
    with django_assert_num_queries(1):
        states = report_states_for_user(found)
    assert len(states) == 3 and {s.label for s in states.values()} == {"待上报"}


def test_report_state_partial(found, year, ais_sim):
    from django.template import Context, Template

    record, report = queued(found, year)
    report_send(report_id=report.pk, client=ais_sim.client())
    report.refresh_from_db()
    html = Template("{% load reporting %}{% report_state states rid %}").render(
        Context({"states": report_states_for_user(found), "rid": record.pk})
    )
    assert "已上报" in html and report.receipt_no in html
    assert (
        Template("{% load reporting %}{% report_state states 999 %}").render(Context({"states": {}})).strip()
        == ""
    )
