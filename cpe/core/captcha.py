"""The small arithmetic captcha of the public credit query and of a sign-in after failures: pure
functions, the caller draws the numbers and keeps the answer in the session."""


def captcha_question(a: int, b: int, op: str) -> tuple[str, int]:
    """A small arithmetic captcha from numbers the caller draws: ("7 + 5 = ?", 12)."""
    if op == "+":
        return f"{a} + {b} = ?", a + b
    hi, lo = max(a, b), min(a, b)
    return f"{hi} - {lo} = ?", hi - lo


def captcha_ok(expected, given: str) -> bool:
    try:
        return expected is not None and int(str(given).strip()) == int(expected)
    except (TypeError, ValueError):
        return False
