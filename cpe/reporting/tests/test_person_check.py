"""rules R1.9: the AIS person check, its task, the 重新核验 button and its throttle."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from cpe.accounts.states import AisStatus
from cpe.core.models import AuditEvent
from cpe.reporting import policy
from cpe.reporting.errors import ReportingError
from cpe.reporting.models import AisPerson
from cpe.reporting.services import ais_check_after_registration, ais_person_check, ais_recheck_sweep
from cpe.reporting.states import CheckResult

PASSWORD = "Zhang-san-2026"


@pytest.fixture
def learner_traits():
    """The person check's learner is registered and not yet checked (cpe/conftest.py's `learner`
    is found by default)."""
    return {}


def seed(sim, user, **extra):
    return sim.seed({"id_number": user.id_number, "name": user.name, **extra})[0]


# --- policy ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "previous, result, expected",
    [
        (AisStatus.UNKNOWN, CheckResult.FOUND, AisStatus.FOUND),
        (AisStatus.UNKNOWN, CheckResult.NOT_FOUND, AisStatus.NOT_FOUND),
        (AisStatus.UNKNOWN, CheckResult.FAILED, AisStatus.FAILED),
        (AisStatus.FAILED, CheckResult.FAILED, AisStatus.FAILED),
        (AisStatus.FAILED, CheckResult.FOUND, AisStatus.FOUND),
        (AisStatus.FOUND, CheckResult.NOT_FOUND, AisStatus.NOT_FOUND),  # the AIS's answer wins
        (AisStatus.FOUND, CheckResult.FAILED, AisStatus.FOUND),  # an outage changes nothing
        (AisStatus.NOT_FOUND, CheckResult.FAILED, AisStatus.NOT_FOUND),
        (AisStatus.NOT_FOUND, CheckResult.FOUND, AisStatus.FOUND),
    ],
)
def test_status_after_check(previous, result, expected):
    assert policy.status_after_check(previous, result) == expected


def test_recheck_due_at_the_boundaries():
    at = timezone.now()
    assert policy.recheck_due(AisStatus.UNKNOWN, None, at)
    assert not policy.recheck_due(AisStatus.FOUND, at - timedelta(days=400), at)
    assert policy.recheck_due(AisStatus.FAILED, at - policy.RECHECK_FAILED_AFTER, at)
    assert not policy.recheck_due(
        AisStatus.FAILED, at - policy.RECHECK_FAILED_AFTER + timedelta(seconds=1), at
    )
    assert policy.recheck_due(AisStatus.NOT_FOUND, at - policy.RECHECK_NOT_FOUND_AFTER, at)
    assert not policy.recheck_due(AisStatus.NOT_FOUND, at - timedelta(days=6), at)


# --- the service ------------------------------------------------------------------------------------
def test_found_sets_status_person_and_audit(ais_settings, ais_sim, learner):
    seeded = seed(ais_sim, learner, region_code="150200")
    at = timezone.now()
    person = ais_person_check(user_id=learner.pk, at=at)
    learner.refresh_from_db()
    assert learner.ais_status == AisStatus.FOUND and learner.ais_checked_at == at
    assert person.person_id == seeded["person_id"] and person.region_code == "150200"
    assert person.last_result == CheckResult.FOUND and person.found_at == at and person.status == "active"
    checked = AuditEvent.objects.get(event_type="ais.person_checked", subject_id=str(learner.pk))
    assert checked.data["old_status"] == "unknown" and checked.data["new_status"] == "found"
    transfer = AuditEvent.objects.get(event_type="privacy.transfer", subject_id=str(learner.pk))
    assert "AIS" in transfer.data["recipient"] and transfer.data["purpose"] == "person_check"
    assert transfer.data["fields"] == ["id_number", "name"]
    assert learner.id_number not in str(transfer.data) and learner.id_number not in str(checked.data)


def test_not_found(ais_settings, ais_sim, learner):
    ais_sim.seed({"id_number": learner.id_number, "name": "别人"})  # same ID, another name
    person = ais_person_check(user_id=learner.pk)
    learner.refresh_from_db()
    assert learner.ais_status == AisStatus.NOT_FOUND and person.person_id == ""
    assert person.last_result == CheckResult.NOT_FOUND


def test_failed_after_the_retries(ais_settings, ais_sim, learner):
    seed(ais_sim, learner)
    ais_sim.fault(mode="500", rate=1.0)
    at = timezone.now()
    person = ais_person_check(user_id=learner.pk, at=at)
    learner.refresh_from_db()
    assert learner.ais_status == AisStatus.FAILED and learner.ais_checked_at == at
    assert person.last_result == CheckResult.FAILED and "500" in person.last_error
    assert len(ais_sim.requests()) == ais_settings.AIS_MAX_RETRIES + 1
    assert AuditEvent.objects.filter(event_type="privacy.transfer", data__outcome="failed").exists()


def test_a_failure_keeps_an_earlier_answer(ais_settings, ais_sim, learner):
    seed(ais_sim, learner)
    first = timezone.now() - timedelta(days=1)
    ais_person_check(user_id=learner.pk, at=first)
    ais_sim.fault(mode="drop", rate=1.0)
    person = ais_person_check(user_id=learner.pk)
    learner.refresh_from_db()
    assert learner.ais_status == AisStatus.FOUND and learner.ais_checked_at == first
    assert person.last_result == CheckResult.FAILED and person.person_id  # kept


def test_staff_is_refused_and_nothing_changes(ais_settings, ais_sim, django_user_model):
    staff = django_user_model.objects.create_user("op", "pw-123456789", name="运营", is_staff=True)
    with pytest.raises(ReportingError):
        ais_person_check(user_id=staff.pk)
    assert ais_sim.requests() == [] and not AisPerson.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="ais.").exists()


def test_check_after_registration_runs_after_commit(
    ais_settings, ais_sim, register_learner, django_capture_on_commit_callbacks
):
    ais_sim.seed({"id_number": "150102199003071237", "name": "张明"})
    user = register_learner(id_number="150102199003071237", name="张明")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ais_check_after_registration(user)
        assert ais_sim.requests() == []  # nothing before the commit
    # The check ran once, after the commit (the callbacks also hold the user row cache's
    # forget of the row the check wrote: decision 0021).
    assert callbacks and len(ais_sim.requests()) == 1
    user.refresh_from_db()
    assert user.ais_status == AisStatus.FOUND and user.ais_person.person_id


def test_the_task_is_safe_to_run_twice(ais_settings, ais_sim, learner):
    from cpe.reporting.tasks import ais_person_check_task

    seed(ais_sim, learner)
    assert ais_person_check_task.delay(learner.pk).get() == CheckResult.FOUND
    assert ais_person_check_task.delay(learner.pk).get() == CheckResult.FOUND
    assert AisPerson.objects.filter(user=learner).count() == 1
    assert ais_person_check_task.delay(999999).get() == "not_checkable"


def test_sweep_queues_the_accounts_due(ais_settings, ais_sim, register_learner):
    due_unknown = register_learner()
    found = register_learner()
    seed(ais_sim, found)
    ais_person_check(user_id=found.pk)
    seed(ais_sim, due_unknown)
    ais_sim.admin("DELETE", "/_sim/requests")
    assert ais_recheck_sweep() == 1
    due_unknown.refresh_from_db()
    assert due_unknown.ais_status == AisStatus.FOUND and len(ais_sim.requests()) == 1


# --- the 重新核验 button ---------------------------------------------------------------------------
def login(client, user):
    r = client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    assert r.status_code == 302


def test_recheck_view_finds_the_learner(client, ais_settings, ais_sim, learner):
    seed(ais_sim, learner)
    login(client, learner)
    r = client.post(reverse("reporting:recheck"), follow=True)
    assert r.redirect_chain[-1][0] == reverse("accounts:dashboard")
    assert "核验完成：您已纳入" in r.content.decode()
    learner.refresh_from_db()
    assert learner.ais_status == AisStatus.FOUND
    event = AuditEvent.objects.get(event_type="ais.person_checked")
    assert event.actor_id == learner.pk and event.ip == "127.0.0.1"


def test_recheck_view_says_when_the_ais_is_down(client, ais_settings, ais_sim, learner):
    ais_sim.fault(mode="503", rate=1.0)
    login(client, learner)
    r = client.post(reverse("reporting:recheck"), follow=True)
    assert "暂时无法连接" in r.content.decode()
    assert len(ais_sim.requests()) == policy.INTERACTIVE_MAX_RETRIES + 1


def test_recheck_view_needs_post_and_a_login(client, ais_settings, ais_sim, learner):
    r = client.post(reverse("reporting:recheck"))
    assert r.status_code == 302 and reverse("accounts:login") in r["Location"]
    login(client, learner)
    assert client.get(reverse("reporting:recheck")).status_code == 405
    assert ais_sim.requests() == []


def test_recheck_is_throttled_per_user_with_429(client, ais_settings, ais_sim, learner):
    cache.clear()
    seed(ais_sim, learner)
    login(client, learner)
    limit = int(policy.RECHECK_RATE.split("/")[0])
    for _ in range(limit):
        assert client.post(reverse("reporting:recheck")).status_code == 302
    r = client.post(reverse("reporting:recheck"))
    assert r.status_code == 429 and "过于频繁" in r.content.decode()
    assert len(ais_sim.requests()) == limit


def test_ais_check_command(ais_settings, ais_sim, learner):
    from io import StringIO

    from django.core.management import call_command

    seed(ais_sim, learner)
    out = StringIO()
    call_command("ais_check", "--id-number", learner.id_number, stdout=out)
    assert "已纳入" in out.getvalue()
    learner.refresh_from_db()
    assert learner.ais_status == AisStatus.FOUND
