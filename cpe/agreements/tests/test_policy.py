from datetime import datetime, timedelta
from datetime import timezone as dt_tz

from cpe.agreements.policy import VersionFacts, displayed_version, must_accept, required_major, text_hash

T = datetime(2026, 11, 28, tzinfo=dt_tz.utc)
V1 = VersionFacts(1, False, None, T - timedelta(days=30))
V11 = VersionFacts(2, True, 1, T - timedelta(days=10))  # typo fix of v1
V2 = VersionFacts(3, False, None, T + timedelta(days=1))  # published, not yet in force


def test_required_major_ignores_minor_edits_and_future_versions():
    assert required_major([V1, V11, V2], T) == 1
    assert displayed_version([V1, V11, V2], T) == 2
    assert required_major([V1, V11, V2], T + timedelta(days=1)) == 3
    assert required_major([], T) is None


def test_must_accept():
    assert must_accept(1, set()) is True
    assert must_accept(1, {1}) is False
    assert must_accept(3, {1}) is True
    assert must_accept(None, set()) is False


def test_text_hash_changes_with_text():
    assert text_hash("t", "a") != text_hash("t", "b")
