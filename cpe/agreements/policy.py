"""Agreement rules (rules R2). Pure functions."""

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class VersionFacts:
    id: int
    is_minor: bool
    amends_id: int | None
    effective_at: datetime


def text_hash(title: str, body: str) -> str:
    """What the learner saw, fixed: SHA-256 of the title and the body (rules R2.2)."""
    return hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()


def required_major(versions: list[VersionFacts], at: datetime) -> int | None:
    """The major version in force at `at`: the latest effective non-minor version. A minor
    edit (a typo fix) never requires a new acceptance (rules R2.1)."""
    in_force = [v for v in versions if not v.is_minor and v.effective_at <= at]
    if not in_force:
        return None
    return max(in_force, key=lambda v: (v.effective_at, v.id)).id


def displayed_version(versions: list[VersionFacts], at: datetime) -> int | None:
    """The text shown as current: the latest effective version, minor edits included."""
    in_force = [v for v in versions if v.effective_at <= at]
    if not in_force:
        return None
    return max(in_force, key=lambda v: (v.effective_at, v.id)).id


def must_accept(required_major_id: int | None, accepted_major_ids: set[int]) -> bool:
    """A signed-in learner must accept the version in force before anything else (rules R2.3)."""
    return required_major_id is not None and required_major_id not in accepted_major_ids
