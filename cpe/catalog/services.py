"""The only writes to products and training years: a price, a validity or a year's rules
change only with finance's permission, under a row lock, with an audit event that records
every changed field before and after (the admin's own LogEntry is editable and keeps no values)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from django.db import transaction
from django.utils import timezone

from cpe.core.audit import audit_record

from . import policy
from .errors import CatalogError
from .models import Product, TrainingYear

if TYPE_CHECKING:
    from cpe.accounts.models import User

_Saved = TypeVar("_Saved", Product, TrainingYear)

PRICE_PERMISSION = "catalog.set_price"
YEAR_RULES_PERMISSION = "catalog.set_year_rules"
PRICE_REFUSAL = ("price_finance_only", "商品价格和有效期只能由财务人员设置，本次修改未保存。")
YEAR_RULES_REFUSAL = (
    "year_rules_finance_only",
    "培训年度的学时要求与开放购买只能由财务人员设置，本次修改未保存。",
)


def product_save(
    *, product: Product, actor: User, ip: str | None = None, at: datetime | None = None
) -> Product:
    """Create ``product`` or save its edited fields. Changing (or setting) the price or the
    validity needs ``catalog.set_price``."""
    return _save(
        product,
        actor=actor,
        ip=ip,
        at=at,
        restricted=policy.PRICE_FIELDS,
        permission=PRICE_PERMISSION,
        event="catalog.product",
        refusal=PRICE_REFUSAL,
    )


def training_year_save(
    *, year: TrainingYear, actor: User, ip: str | None = None, at: datetime | None = None
) -> TrainingYear:
    """Create ``year`` or save its edited fields. Changing (or setting) its required hours,
    credit conversion, professional minimum or sale status needs ``catalog.set_year_rules``."""
    return _save(
        year,
        actor=actor,
        ip=ip,
        at=at,
        restricted=policy.YEAR_RULE_FIELDS,
        permission=YEAR_RULES_PERMISSION,
        event="catalog.year",
        refusal=YEAR_RULES_REFUSAL,
    )


def _save(
    instance: _Saved,
    *,
    actor: User,
    ip: str | None,
    at: datetime | None,
    restricted: frozenset[str],
    permission: str,
    event: str,
    refusal: tuple[str, str],
) -> _Saved:
    at = at or timezone.now()
    model = type(instance)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    with transaction.atomic():
        if instance.pk is None:
            current, action = None, "created"
            changes = {f.name: [None, getattr(instance, f.attname)] for f in fields}
        else:
            current, action = model.objects.select_for_update().get(pk=instance.pk), "changed"
            changes = {
                f.name: [getattr(current, f.attname), getattr(instance, f.attname)]
                for f in fields
                if getattr(current, f.attname) != getattr(instance, f.attname)
            }
            if not changes:
                return current
        refused = policy.restricted_change(
            changes, restricted, may_change=actor is not None and actor.has_perm(permission)
        )
        if refused:
            raise CatalogError(*refusal)
        if current is None:
            instance.save()
        else:
            attnames = {f.name: f.attname for f in fields}
            instance.save(update_fields=[attnames[name] for name in changes])
        audit_record(
            f"{event}_{action}", actor=actor, subject=instance, ip=ip, at=at, data={"changes": changes}
        )
    return instance
