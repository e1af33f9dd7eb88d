"""Money parsing (gateway amounts are outside input: "123.45" yuan strings in notifications and
answers). yuan_to_fen's documented error is ValueError, whatever the text."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cpe.core.money import fen_to_yuan, yuan_to_fen

FUZZ = settings(max_examples=300, derandomize=True, deadline=None)


@FUZZ
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_fen_yuan_round_trip(fen):
    text = fen_to_yuan(fen)
    assert Decimal(text).as_tuple().exponent == -2
    assert yuan_to_fen(text) == fen


@FUZZ
@given(st.text(max_size=40))
@example("abc")
@example("")
@example("NaN")
@example("sNaN")
@example("Infinity")
@example("-Infinity")
@example("1e999999")
@example("0.001")
def test_any_text_parses_or_raises_value_error(text):
    try:
        fen = yuan_to_fen(text)
    except ValueError:
        return
    assert isinstance(fen, int)


@pytest.mark.parametrize("text", ["abc", "", "sNaN", "NaN", "Infinity", "-Infinity", "1e999999", "0.001"])
def test_refusals_are_value_errors(text):
    # Regression: "abc" / "" / "sNaN" raised decimal.InvalidOperation, "Infinity" OverflowError
    # and "1e999999" decimal.Overflow, none a ValueError; the sandbox's parse_yuan catches only
    # ValueError and InvalidOperation, so "Infinity" was a server error there.
    with pytest.raises(ValueError):
        yuan_to_fen(text)


@pytest.mark.parametrize("text, fen", [("123.45", 12345), ("0.01", 1), ("100", 10000), ("1.5", 150)])
def test_known_amounts(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["Infinity", "1e999999", "abc"])
def test_sandbox_amount_refusal(text):
    # Regression: the sandbox gateway's parse_yuan let "Infinity" (OverflowError) and "1e999999"
    # (decimal.Overflow) escape as server errors instead of its "invalid" refusal.
    from cpe.sandbox.services import Refused, parse_yuan

    with pytest.raises(Refused) as exc:
        parse_yuan(text)
    assert exc.value.reason == "invalid"
