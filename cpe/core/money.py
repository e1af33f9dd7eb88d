"""Money is an integer number of fen (conventions C4)."""

from decimal import Decimal, DecimalException


def fen_to_yuan(fen: int) -> str:
    """12345 -> "123.45" (the string the gateways want)."""
    return f"{Decimal(fen) / 100:.2f}"


def yuan_to_fen(yuan: str) -> int:
    """ "123.45" -> 12345; refuses anything that is not a whole number of fen (unparseable text,
    NaN, infinities, exponents past the decimal context) with ValueError and nothing else."""
    try:
        value = Decimal(str(yuan)) * 100
    except DecimalException as exc:  # InvalidOperation (not a number), Overflow ("1e999999")
        raise ValueError(f"not an amount: {yuan!r}") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"not a whole number of fen: {yuan!r}")
    return int(value)
