"""Events recorded inside audit_deferred() are appended together at the block's end: in the
order recorded, chained like any others, and not at all when the block fails."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cpe.core.audit import audit_deferred, audit_record, audit_verify
from cpe.core.models import AuditEvent, AuditHead

pytestmark = pytest.mark.django_db


def test_deferred_events_are_appended_at_the_end_in_order_and_chained():
    audit_record("before", data={"n": 0})
    with transaction.atomic(), audit_deferred():
        first = audit_record("one", data={"n": 1})
        with audit_deferred():  # nested: appended with the outermost block
            audit_record("two", data={"n": 2})
        assert AuditEvent.objects.count() == 1 and first.pk is None  # nothing appended yet
        with CaptureQueriesContext(connection) as ctx:
            audit_record("three", data={"n": 3})
        assert ctx.captured_queries == []  # not even the head is locked yet
    rows = list(AuditEvent.objects.order_by("seq").values_list("seq", "event_type"))
    assert rows == [(1, "before"), (2, "one"), (3, "two"), (4, "three")]
    assert first.pk == AuditEvent.objects.get(event_type="one").pk and first.seq == 2
    assert AuditHead.objects.get(pk=1).seq == 4
    assert audit_verify().ok


def test_a_failing_block_appends_nothing():
    audit_record("before")
    with pytest.raises(ValueError):
        with transaction.atomic(), audit_deferred():
            audit_record("lost")
            raise ValueError("the change fails")
    assert list(AuditEvent.objects.values_list("event_type", flat=True)) == ["before"]
    audit_record("after")  # the next event chains on as if the failed block never ran
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]
    assert audit_verify().ok


def test_outside_a_deferred_block_each_event_is_appended_at_once():
    e = audit_record("alone")
    assert e.pk is not None and AuditEvent.objects.filter(pk=e.pk, seq=e.seq).exists()
