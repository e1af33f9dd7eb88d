"""Catalog rules: who may change what is sold and what a year requires."""

from collections.abc import Iterable

# What a learner pays and what the payment buys (rules R3.3: "each product has a price (in fen)
# and a validity in days"), and what a training year demands (rules R3.1: required hours, the
# conversion to credits, the professional minimum) plus whether it is on sale. These are
# finance's (rules R0.1: finance owns orders, refunds and invoices; the content editor
# owns courses, chapters and question banks).
DEFAULT_VALIDITY_DAYS = 90  # agreement §4.2: 90 days from payment, unless the product says otherwise
PRICE_FIELDS = frozenset({"price_fen", "validity_days"})
YEAR_RULE_FIELDS = frozenset({"required_hours", "credits_per_hour", "professional_min_hours", "is_open"})


def restricted_change(
    changed_fields: Iterable[str], restricted: Iterable[str], *, may_change: bool
) -> frozenset[str]:
    """The changed fields the actor may not change: ``changed_fields ∩ restricted`` unless the
    actor holds the permission for them. A new row counts every field as changed (a product
    created with a price sets that price). Empty means the change is allowed.

    Source: rules R0.1 (least privilege: prices and year rules are finance's),
    rules R3.1 and R3.3 (which fields are the price and the year's rules)."""
    if may_change:
        return frozenset()
    return frozenset(changed_fields) & frozenset(restricted)
