"""The account's life as a registry: what each app holds about a learner, and what it does with
it when the account closes (rules R11, R14; docs/architecture.md, "The account's life").

accounts owns the two flows (personal_data: the learner's data copy; closing: account_close)
and knows no other app's tables. Each app that keeps rows about a learner registers, from its
AppConfig.ready() (in its own `account_life.py`):

- a `Section` of the data copy (rules R14): a read-only query on its models and the columns shown;
- a `ClosingStep` (rules R11): what happens to its rows when the account closes: deleted now,
  kept as a transaction record (sealed into the archive) and scrubbed, with the order and the
  legal reason;
- a closing fact (the facts policy.closing_refusal / closing_outcome decide on);
- transfer rows (to whom the learner's data was given) and labels of its notification events.

Registering is idempotent (by key), so a second ready() (tests) changes nothing.
cpe/accounts/tests/test_lifecycle_registry.py fails for a model that reaches the user through
foreign keys and is registered nowhere.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable

from django.utils import timezone

from cpe.core.money import fen_to_yuan

from . import policy


# --- the data copy ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    key: str  # the JSON key and the HTML heading
    rows: Callable  # user -> iterable of objects (read-only, the learner's own)
    columns: tuple  # (label, attribute path or callable)
    single: bool = False  # one object shown as label/value pairs (the account)
    note: str = ""
    order: int = 0  # the place in the copy (lower first)
    models: tuple = ()  # labels ("app.Model") of the models whose rows the section shows

    def __post_init__(self):
        for label, spec in self.columns:
            if isinstance(spec, str) and set(spec.split(".")) & policy.PERSONAL_DATA_FORBIDDEN_ATTRS:
                raise ValueError(f"{self.key}/{label}: {spec} must never be exported (accounts.policy)")


def fmt(value: Any) -> Any:
    """One display value of the copy: local time to the second, 是/否, "" for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


# Column helpers for sections.
def yuan(attr: str) -> Callable:
    return lambda o: fen_to_yuan(getattr(o, attr))


def display(attr: str) -> Callable:
    return lambda o: getattr(o, f"get_{attr}_display")()


def seconds(attr: str) -> Callable:
    return lambda o: round(getattr(o, attr) or 0)


# --- closing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClosingStep:
    """What one app does with its rows of a closing account. The handlers run in `order`
    (lower first), inside account_close's transaction, before accounts handles the user row.
    A handler left None means "nothing to do in that outcome" (and no count in the audit event).

    - stop(user, at): before anything is deleted or a message queued (e.g. revoke play tokens);
    - delete(user) -> count: outcome DELETE (never paid): delete the rows the user row's own
      deletion would not take (PROTECT relations, rows found by address);
    - scrub(user, at) -> count: outcomes ARCHIVE and ANONYMISE: delete or blank the live rows'
      personal fields; what stays is a pseudonymous transaction record;
    - archive(user) -> {key: [dict]}: outcome ARCHIVE: the records sealed into the archive.
    """

    key: str  # the count's name in the audit event
    order: int
    models: tuple  # labels ("app.Model") of the models this step handles
    reason: str  # what happens and why (the legal ground for what is kept)
    stop: Callable[[Any, datetime], Any] | None = None
    delete: Callable[[Any], int] | None = None
    scrub: Callable[[Any, datetime], int] | None = None
    archive: Callable[[Any], dict] | None = None


# The facts account_close needs from other apps, each registered by the app that owns it:
# name -> (user -> value). Names are the keyword arguments of policy.closing_refusal, plus
# "last_transaction_at" (policy.closing_outcome).
CLOSING_FACT_NAMES = ("enrolments", "refund_in_progress", "ais_report_pending", "last_transaction_at")

_sections: dict[str, Section] = {}
_steps: dict[str, ClosingStep] = {}
_facts: dict[str, Callable[[Any], Any]] = {}
_transfers: dict[str, tuple[int, Callable[[Any], list]]] = {}
_prepare: dict[str, Callable[[Any], None]] = {}
_message_labels: dict[str, str] = {}
_message_label_prefixes: dict[str, str] = {}


def register_section(section: Section) -> None:
    _sections[section.key] = section


def register_closing_step(step: ClosingStep) -> None:
    _steps[step.key] = step


def register_closing_fact(name: str, fn: Callable[[Any], Any]) -> None:
    if name not in CLOSING_FACT_NAMES:
        raise ValueError(f"unknown closing fact {name!r}: one of {CLOSING_FACT_NAMES}")
    _facts[name] = fn


def register_transfers(key: str, fn: Callable[[Any], list], *, order: int) -> None:
    """fn(user) -> rows {TRANSFER_COLUMNS: value} of one kind of transfer to a third party."""
    _transfers[key] = (order, fn)


def register_export_prepare(key: str, fn: Callable[[Any], None]) -> None:
    """fn(user) runs before the copy is read (e.g. flush buffered progress)."""
    _prepare[key] = fn


def register_message_labels(labels: dict[str, str], prefixes: dict[str, str] | None = None) -> None:
    """What a notification event means to the learner (the copy's list of notifications)."""
    _message_labels.update(labels)
    _message_label_prefixes.update(prefixes or {})


# --- reading the registry -----------------------------------------------------------------------
def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: s.order)


def closing_steps() -> list[ClosingStep]:
    return sorted(_steps.values(), key=lambda s: s.order)


def closing_fact(name: str, user) -> Any:
    try:
        fn = _facts[name]
    except KeyError:
        raise LookupError(f"closing fact {name!r} is not registered (docs/architecture.md)") from None
    return fn(user)


def transfer_sources() -> list[Callable[[Any], list]]:
    return [fn for _, fn in sorted(_transfers.values(), key=lambda t: t[0])]


def export_prepare(user) -> None:
    for fn in _prepare.values():
        fn(user)


def message_label(event: str) -> str:
    for prefix, label in _message_label_prefixes.items():
        if event.startswith(prefix):
            return label
    return _message_labels.get(event, event)


def registered_models() -> dict[str, list[str]]:
    """model label -> where it is registered ("section:…", "closing:…")."""
    found: dict[str, list[str]] = {}
    for s in _sections.values():
        for label in s.models:
            found.setdefault(label, []).append(f"section:{s.key}")
    for step in _steps.values():
        for label in step.models:
            found.setdefault(label, []).append(f"closing:{step.key}")
    return found
