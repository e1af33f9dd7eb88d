"""Reads for moderation: the active bans (memoised per process) and the re-registration check."""

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from cpe.accounts.models import User
from cpe.core import crypto
from cpe.core.memo import ProcessMemo

from . import policy
from .models import Ban
from .states import BanKind

BAN_MEMO_SECONDS = 15  # each process re-reads the bans this often (and at once after a save here)


@dataclass(frozen=True)
class ActiveBan:
    id: int
    kind: str
    user_id: int | None
    network: policy.IPNetwork | None  # for a network ban
    reason: str
    starts_at: datetime
    ends_at: datetime | None

    def active(self, at: datetime) -> bool:
        return policy.ban_active(starts_at=self.starts_at, ends_at=self.ends_at, lifted_at=None, at=at)


def _load_bans() -> list[ActiveBan]:
    from django.utils import timezone

    rows: list[ActiveBan] = []
    for b in Ban.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()), lifted_at__isnull=True
    ):
        net: policy.IPNetwork | None = None
        if b.kind == BanKind.NETWORK:
            try:
                net = ipaddress.ip_network(b.network)
            except ValueError:  # never stored by the services; skip rather than fail every request
                continue
        rows.append(ActiveBan(b.pk, b.kind, b.user_id, net, b.reason, b.starts_at, b.ends_at))
    return rows


_bans_memo = ProcessMemo(seconds=BAN_MEMO_SECONDS, load=_load_bans, model=Ban, name="moderation.bans")
_rows = _bans_memo.get
forget_bans = _bans_memo.forget
bans_known = _bans_memo.known


def any_bans() -> bool:
    """Cheap: whether this process knows of any ban not yet ended (no query within the memo)."""
    return bool(_rows())


def account_bans_exist(at: datetime) -> bool:
    return any(b.kind == BanKind.ACCOUNT and b.active(at) for b in _rows())


def network_ban_for(addr: policy.IPAddress | None, at: datetime) -> ActiveBan | None:
    """The network ban in force for this address (the one lasting longest), or None."""
    if addr is None:
        return None
    hits = [
        b
        for b in _rows()
        if b.kind == BanKind.NETWORK and b.active(at) and policy.address_banned(addr, [b.network])
    ]
    return _longest(hits)


def account_ban_for(user_id: int, at: datetime) -> ActiveBan | None:
    hits = [b for b in _rows() if b.kind == BanKind.ACCOUNT and b.user_id == user_id and b.active(at)]
    return _longest(hits)


def _longest(hits: Sequence[ActiveBan]) -> ActiveBan | None:
    if not hits:
        return None
    return max(hits, key=lambda b: (b.ends_at is None, b.ends_at or b.starts_at))


def ip_banned(raw_ip: str | None, at: datetime) -> ActiveBan | None:
    """The network ban for a client address string (cpe.core.net.client_ip), or None (no
    address parsed while no ban is known). Both doors ask it (middleware.network_ban)."""
    if not _rows():
        return None
    return network_ban_for(policy.client_address(raw_ip), at)


def registration_refused(id_number_clear: str) -> str | None:
    """The Chinese refusal when this ID number belongs to a person terminated for a violation
    (rules R12), else None. Looks the person up by the blind index only."""
    if not (id_number_clear or "").strip():
        return None
    row = (
        User.objects.filter(id_number_bidx=crypto.blind_index("id_number", id_number_clear))
        .values("status", "status_reason")
        .first()
    )
    if row is None:
        return None
    return policy.reregistration_refusal(status=row["status"], status_reason=row["status_reason"])


def banned_user_ids(user_ids: Iterable[int], at: datetime) -> set[int]:
    """Which of these accounts an account ban holds now ([starts_at, ends_at), not lifted), read
    from the database (the truth; the memo may be seconds old in this process). Answers
    learning.hooks.banned_user_ids (the player's standing)."""
    return set(
        Ban.objects.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=at),
            kind=BanKind.ACCOUNT,
            user_id__in=list(user_ids),
            lifted_at__isnull=True,
            starts_at__lte=at,
        ).values_list("user_id", flat=True)
    )
