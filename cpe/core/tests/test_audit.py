import base64
import hashlib
import json
import os
import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cpe.core import audit
from cpe.core.audit import _canonical, audit_head_record, audit_record, audit_verify
from cpe.core.models import AuditEvent, AuditHead

pytestmark = pytest.mark.django_db


def _three():
    for i in range(3):
        audit_record("test.event", data={"i": i, "name": "张*"}, ip="127.0.0.1")


def _plain_hash(e) -> str:
    """What anyone holding only the database can compute: the old, unkeyed chain hash."""
    return hashlib.sha256(
        _canonical(
            e.seq,
            e.at,
            e.actor_id,
            e.actor_label,
            e.event_type,
            e.subject_type,
            e.subject_id,
            e.data,
            e.ip,
            e.prev_hash,
        )
    ).hexdigest()


def _rechain(from_seq: int, hasher=_plain_hash, **changes):
    """An attacker's consistent rewrite: change events from `from_seq` on, recompute every hash
    after them and move the head, as the verifier of a keyless chain would expect."""
    prev = AuditEvent.objects.get(seq=from_seq - 1).hash if from_seq > 1 else audit.GENESIS
    for e in AuditEvent.objects.filter(seq__gte=from_seq).order_by("seq"):
        for name, value in changes.items():
            setattr(e, name, value)
        e.prev_hash = prev
        e.hash = hasher(e)
        AuditEvent.objects.filter(pk=e.pk).update(**changes, prev_hash=e.prev_hash, hash=e.hash)
        prev = e.hash
    AuditHead.objects.filter(id=1).update(hash=prev)


@pytest.fixture
def audit_env(monkeypatch):
    """Audit keys from the environment, as production has them; the key cache is reset."""

    def use(spec: str, active: str = ""):
        monkeypatch.setenv("CPE_AUDIT_KEYS", spec)
        monkeypatch.setenv("CPE_AUDIT_ACTIVE_KEY", active)
        audit.audit_keys.cache_clear()

    yield use
    monkeypatch.delenv("CPE_AUDIT_KEYS", raising=False)
    audit.audit_keys.cache_clear()


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def test_chain_links_each_event_to_the_previous():
    _three()
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert all(e.key_id == audit.audit_keys().active for e in events)
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


def test_head_moved_back_behind_existing_events_detected():
    _three()
    AuditHead.objects.filter(id=1).update(seq=2, hash=AuditEvent.objects.get(seq=2).hash)
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 3


def test_last_event_replaced_detected():
    _three()
    three = AuditEvent.objects.get(seq=3)
    AuditEvent.objects.filter(seq=3).update(hash="f" * 64)
    assert audit_verify().first_bad_seq == 3
    AuditEvent.objects.filter(seq=3).update(hash=three.hash)
    AuditHead.objects.filter(id=1).update(hash="e" * 64)
    assert audit_verify().first_bad_seq == 3


def test_events_appended_during_the_walk_do_not_fail_it(monkeypatch):
    """A live database: an event committed after the walk started is not an error."""
    _three()
    real = AuditEvent.objects.order_by

    def walk_then_append(*args):
        qs = real(*args)
        audit_record("test.concurrent")  # lands after the head was read
        return qs.filter(seq__lte=3)  # ... and after the walk's snapshot

    monkeypatch.setattr(AuditEvent.objects, "order_by", walk_then_append)
    report = audit_verify()
    assert report.ok and report.checked == 3


# --- the key -----------------------------------------------------------------------------------
def test_rewrite_with_recomputed_plain_hashes_detected():
    """Without the key, a rewritten event and a chain recomputed after it no longer verify."""
    _three()
    _rechain(2, data={"i": 99, "name": "李*"})
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 2 and "内容哈希" in report.problem


def test_rewrite_passed_off_as_pre_key_events_detected():
    """Blanking the key id to pass the rewritten tail off as old plain events: refused after a keyed one."""
    _three()
    _rechain(2, data={"i": 99, "name": "李*"}, key_id="")
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 2 and "无密钥" in report.problem


def test_whole_chain_rewritten_as_plain_detected_past_the_pinned_prefix(settings):
    _three()
    _rechain(1, data={"i": 99, "name": "李*"}, key_id="")
    settings.AUDIT_PLAIN_MAX_SEQ = 0  # production's default: no event may be plain
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 1 and "AUDIT_PLAIN_MAX_SEQ" in report.problem


def test_events_from_before_the_key_verify_and_the_first_keyed_one_chains_onto_them(settings):
    prev = audit.GENESIS
    for i in (1, 2):  # as the old code wrote them (the migration gives key_id "")
        e = AuditEvent(seq=i, at=audit.timezone.now(), event_type="old.event", data={"i": i}, prev_hash=prev)
        e.hash = _plain_hash(e)
        e.save()
        prev = e.hash
    AuditHead.objects.create(id=1, seq=2, hash=prev)
    new = audit_record("new.event")
    assert new.seq == 3 and new.prev_hash == prev and new.key_id
    report = audit_verify()
    assert report.ok and report.checked == 3 and report.plain == 2
    settings.AUDIT_PLAIN_MAX_SEQ = 2
    assert audit_verify().ok
    settings.AUDIT_PLAIN_MAX_SEQ = 1
    assert audit_verify().first_bad_seq == 2


def test_key_rotation_old_events_verify_under_their_key_id(audit_env):
    k1, k2 = _key(), _key()
    audit_env(f"k1:{k1}")
    audit_record("a")
    audit_record("b")
    audit_env(f"k2:{k2},k1:{k1}", active="k2")
    audit_record("c")
    assert list(AuditEvent.objects.order_by("seq").values_list("key_id", flat=True)) == ["k1", "k1", "k2"]
    assert audit_verify().ok
    audit_env(f"k2:{k2}")  # the old key dropped too early
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 1 and "k1" in report.problem


def test_same_content_under_another_key_does_not_verify(audit_env):
    audit_env(f"k1:{_key()}")
    audit_record("a")
    audit_env(f"k1:{_key()}")  # same id, another key: an attacker's guess
    assert audit_verify().first_bad_seq == 1


@pytest.mark.parametrize(
    "spec, active",
    [
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), ""),
        ("k1:" + base64.urlsafe_b64encode(b"x" * 32).decode(), "k9"),
        ("bad id!:" + base64.urlsafe_b64encode(b"x" * 32).decode(), ""),
    ],
)
def test_unusable_keys_refused(audit_env, spec, active):
    from django.core.exceptions import ImproperlyConfigured

    audit_env(spec, active)
    with pytest.raises(ImproperlyConfigured):
        audit_record("a")
    assert not AuditEvent.objects.exists()


def test_deploy_check_requires_the_key_from_the_environment(settings, audit_env, monkeypatch):
    from django.core.checks import run_checks

    settings.DEBUG = False
    monkeypatch.delenv("CPE_AUDIT_KEYS", raising=False)
    assert "cpe.E005" in [e.id for e in run_checks(include_deployment_checks=True)]
    audit_env("k1:" + base64.urlsafe_b64encode(b"short").decode())
    assert "cpe.E005" in [e.id for e in run_checks(include_deployment_checks=True)]
    audit_env(f"k1:{_key()}")
    assert "cpe.E005" not in [e.id for e in run_checks(include_deployment_checks=True)]


# --- the heads recorded outside the database ---------------------------------------------------
def test_head_recorded_once_per_change(tmp_path):
    heads = tmp_path / "audit-heads.log"
    assert audit_head_record(heads) is None and not heads.exists()  # empty chain
    _three()
    first = audit_head_record(heads)
    assert first["seq"] == 3 and first["hash"] == AuditEvent.objects.get(seq=3).hash
    assert audit_head_record(heads) is None  # unchanged head
    audit_record("test.event")
    assert audit_head_record(heads)["seq"] == 4
    lines = [json.loads(line) for line in heads.read_text().splitlines()]
    assert [r["seq"] for r in lines] == [3, 4]
    assert oct(os.stat(heads).st_mode & 0o777) == "0o600"


def test_beat_records_the_head(settings, tmp_path):
    from cpe.core.tasks import audit_head_record as task

    settings.AUDIT_HEADS_FILE = tmp_path / "heads.log"
    _three()
    assert task.delay().get() == 3
    assert settings.CELERY_BEAT_SCHEDULE["audit-head-record"]["task"] == "cpe.core.tasks.audit_head_record"


def test_truncated_tail_after_a_recorded_head_detected(settings, tmp_path):
    settings.AUDIT_HEADS_FILE = tmp_path / "heads.log"
    _three()
    audit_head_record()
    # A consistent truncation: the last event gone and the head moved back onto the one before.
    two = AuditEvent.objects.get(seq=2)
    AuditEvent.objects.filter(seq=3).delete()
    AuditHead.objects.filter(id=1).update(seq=2, hash=two.hash)
    settings.AUDIT_HEADS_FILE = None
    assert audit_verify().ok  # the database alone cannot tell
    settings.AUDIT_HEADS_FILE = tmp_path / "heads.log"
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 3 and "截断" in report.problem
    with pytest.raises(CommandError, match="截断"):
        call_command("audit_verify")


def test_truncated_and_rewritten_tail_detected(settings, tmp_path):
    """Cut back and written again past the recorded head: the recorded seq now has another hash."""
    settings.AUDIT_HEADS_FILE = tmp_path / "heads.log"
    _three()
    audit_head_record()
    two = AuditEvent.objects.get(seq=2)
    AuditEvent.objects.filter(seq=3).delete()
    AuditHead.objects.filter(id=1).update(seq=2, hash=two.hash)
    audit_record("test.forged")
    audit_record("test.forged")
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 3 and "改写" in report.problem


def test_rewrite_with_the_key_detected_by_the_recorded_head(settings, tmp_path):
    """Even someone holding the key cannot rewrite history older than a recorded head."""
    settings.AUDIT_HEADS_FILE = tmp_path / "heads.log"
    _three()
    audit_head_record()
    _rechain(2, hasher=audit.event_hash, data={"i": 99, "name": "李*"})
    report = audit_verify()
    assert not report.ok and report.first_bad_seq == 3 and report.heads_checked == 0
    settings.AUDIT_HEADS_FILE = None
    assert audit_verify().ok  # the database alone cannot tell


def test_verify_against_a_copy_of_the_heads(settings, tmp_path):
    _three()
    copy = tmp_path / "copy.log"
    audit_head_record(copy)
    report = audit_verify(heads_file=copy)
    assert report.ok and report.heads_checked == 1 and report.heads_source == str(copy)
    call_command("audit_verify", heads=str(copy))
    AuditEvent.objects.filter(seq=3).delete()
    AuditHead.objects.filter(id=1).update(seq=2, hash=AuditEvent.objects.get(seq=2).hash)
    with pytest.raises(CommandError):
        call_command("audit_verify", heads=str(copy))


@pytest.mark.parametrize(
    "content, problem",
    [
        ("not json\n", "无法解析"),
        ('{"seq": 1, "hash": "aa"}\n{"seq": 1, "hash": "bb"}\n', "两个不同的哈希"),
    ],
)
def test_unreadable_heads_file_fails(tmp_path, content, problem):
    _three()
    heads = tmp_path / "heads.log"
    heads.write_text(content)
    report = audit_verify(heads_file=heads)
    assert not report.ok and problem in report.problem
    with pytest.raises(CommandError, match=f"审计日志链校验失败：{problem}|审计日志链校验失败：链头记录文件"):
        call_command("audit_verify", heads=str(heads))
