"""Generated input for the ID number parser (outside input: the registration and correction
forms). Properties: any text gets an IdCheck (never an exception); every ID built with the
MOD 11-2 check character from a real area and birth date is accepted; an accepted value is 18
ASCII characters."""

from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cpe.accounts import policy

TODAY = date(2026, 11, 28)
FUZZ = settings(max_examples=300, derandomize=True, deadline=None)


@FUZZ
@given(st.text())
@example("15" + "\u0661" * 15 + "0")  # Arabic-Indic digits: str.isdigit but not an ID number
@example("1501021990030712\u0663X")
@example("110105194912310021\n")
def test_any_text_gets_an_answer(raw):
    r = policy.check_id_number(raw, today=TODAY)
    assert isinstance(r, policy.IdCheck)
    if r.ok:
        assert len(r.value) == 18 and r.value.isascii()
        assert r.value[:17].isdigit() and r.value[17] in "0123456789X"
    else:
        assert r.code and r.message


@FUZZ
@given(
    province=st.sampled_from(sorted(policy.ID_PROVINCES)),
    county=st.integers(0, 9999),
    birth=st.dates(min_value=policy.ID_EARLIEST_BIRTH, max_value=TODAY),
    seq=st.integers(0, 999),
    lower_x=st.booleans(),
)
def test_generated_valid_ids_are_accepted(province, county, birth, seq, lower_x):
    first17 = f"{province}{county:04d}{birth:%Y%m%d}{seq:03d}"
    raw = first17 + policy.id_check_char(first17)
    if lower_x:
        raw = raw.lower()
    r = policy.check_id_number(raw, today=TODAY)
    assert r.ok, r
    assert r.value == raw.upper() and r.birth_date == birth


@FUZZ
@given(st.integers(0, 10**17 - 1), st.sampled_from("0123456789X"))
def test_only_the_right_check_character_passes(body, check):
    first17 = f"15010219900307{body % 1000:03d}"
    r = policy.check_id_number(first17 + check, today=TODAY)
    assert r.ok is (check == policy.id_check_char(first17))


def test_non_ascii_digits_are_refused():
    # Regression: `\d` matched any Unicode digit, so an ID with Arabic-Indic digits in the body
    # (str.isdigit, int() reads them) passed the shape, date and checksum checks.
    first17 = "15010219900307123"
    good = first17 + policy.id_check_char(first17)
    arabic = good[:6] + "".join(chr(0x0660 + int(c)) for c in good[6:17]) + good[17]
    r = policy.check_id_number(arabic, today=TODAY)
    assert not r.ok and r.code == "id_shape"
