import pytest

from cpe.catalog import policy


@pytest.mark.parametrize(
    "changed, restricted, may_change, refused",
    [
        ({"title"}, policy.PRICE_FIELDS, False, set()),
        ({"title", "price_fen"}, policy.PRICE_FIELDS, False, {"price_fen"}),
        ({"validity_days"}, policy.PRICE_FIELDS, False, {"validity_days"}),
        ({"price_fen", "validity_days"}, policy.PRICE_FIELDS, True, set()),
        ({"required_hours", "year"}, policy.YEAR_RULE_FIELDS, False, {"required_hours"}),
        ({"credits_per_hour"}, policy.YEAR_RULE_FIELDS, False, {"credits_per_hour"}),
        ({"professional_min_hours"}, policy.YEAR_RULE_FIELDS, False, {"professional_min_hours"}),
        ({"is_open"}, policy.YEAR_RULE_FIELDS, False, {"is_open"}),
        ({"required_hours", "is_open"}, policy.YEAR_RULE_FIELDS, True, set()),
        (set(), policy.YEAR_RULE_FIELDS, False, set()),
    ],
)
def test_restricted_change(changed, restricted, may_change, refused):
    assert policy.restricted_change(changed, restricted, may_change=may_change) == refused


def test_a_product_is_valid_90_days_unless_it_says_otherwise():
    """agreement §4.2; the default belongs to the catalog, which owns products."""
    from cpe.catalog.models import Product

    assert policy.DEFAULT_VALIDITY_DAYS == 90
    assert Product._meta.get_field("validity_days").default == policy.DEFAULT_VALIDITY_DAYS
