"""Money is an integer number of fen (DESIGN "Data and time")."""
from decimal import Decimal


def fen_to_yuan(fen: int) -> str:
    """12345 -> "123.45" (the string the gateways want)."""
    return f"{Decimal(fen) / 100:.2f}"


def yuan_to_fen(yuan: str) -> int:
    """"123.45" -> 12345; refuses anything that is not a whole number of fen."""
    value = Decimal(str(yuan)) * 100
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number of fen: {yuan}")
    return int(value)
