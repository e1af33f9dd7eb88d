"""Reads of agreement versions and acceptances. The agreement gate asks for the version in force
on every signed-in request: it is computed from a per-process memo of every version's facts (a
table of a few rows), so an up-to-date learner costs no query."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q

from cpe.core.memo import ProcessMemo

from .models import AgreementAcceptance, AgreementVersion, Decision
from .policy import VersionFacts, displayed_version, required_major

if TYPE_CHECKING:
    from cpe.accounts.models import User

# Each process re-reads the versions this often, and at once after a save in this process. A
# version published ahead of its effective time is in the memo before it takes effect, so it is
# required from its effective instant in every process.
VERSIONS_MEMO_SECONDS = 15


def _facts(at: datetime) -> list[VersionFacts]:
    rows = AgreementVersion.objects.filter(effective_at__lte=at).values_list(
        "id", "is_minor", "amends_id", "effective_at"
    )
    return [VersionFacts(*r) for r in rows]


def version_required(at: datetime) -> AgreementVersion | None:
    vid = required_major(_facts(at), at)
    return AgreementVersion.objects.get(pk=vid) if vid else None


def version_current(at: datetime) -> AgreementVersion | None:
    vid = displayed_version(_facts(at), at)
    return AgreementVersion.objects.get(pk=vid) if vid else None


def version_to_accept(at: datetime) -> AgreementVersion | None:
    """The text a learner accepts: the current one (the latest minor edit of the major
    version in force, if there is one)."""
    return version_current(at)


def accepted_major_ids(user: User) -> set[int]:
    return set(
        AgreementAcceptance.objects.filter(user=user, decision=Decision.ACCEPTED).values_list(
            "major_version_id", flat=True
        )
    )


def _load_versions() -> list[VersionFacts]:
    return [
        VersionFacts(*r)
        for r in AgreementVersion.objects.order_by().values_list(
            "id", "is_minor", "amends_id", "effective_at"
        )
    ]


_versions_memo = ProcessMemo(
    seconds=VERSIONS_MEMO_SECONDS, load=_load_versions, model=AgreementVersion, name="agreements.versions"
)
forget_versions = _versions_memo.forget


def required_major_id(at: datetime) -> int | None:
    """The id of the major version in force at `at` (no query within the memo)."""
    return required_major(list(_versions_memo.get()), at)


def user_has_accepted(user: User, major_id: int) -> bool:
    return AgreementAcceptance.objects.filter(
        Q(user=user) & Q(major_version_id=major_id) & Q(decision=Decision.ACCEPTED)
    ).exists()
