import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cpe.core.audit import audit_record, audit_verify
from cpe.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _three():
    for i in range(3):
        audit_record("test.event", data={"i": i, "name": "张*"}, ip="127.0.0.1")


def test_chain_links_each_event_to_the_previous():
    _three()
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert audit_verify().ok
    call_command("audit_verify")


def test_edited_event_detected():
    _three()
    AuditEvent.objects.filter(seq=2).update(data={"i": 99, "name": "张*"})
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 2
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_deleted_event_detected():
    _three()
    AuditEvent.objects.filter(seq=2).delete()
    assert audit_verify().first_bad_seq == 2


def test_deleted_last_event_detected():
    _three()
    AuditEvent.objects.filter(seq=3).delete()
    assert not audit_verify().ok
