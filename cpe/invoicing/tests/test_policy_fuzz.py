"""Generated input for the unified social credit code parser (the invoice request form)."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cpe.invoicing import policy

FUZZ = settings(max_examples=300, derandomize=True, deadline=None)
USCC_ALPHABET = st.sampled_from(policy.USCC_CHARS)


@FUZZ
@given(st.text())
@example("91350100M000100Y4\u0663")
@example("9135\u0661100M000100Y43")
def test_any_text_gets_an_answer(raw):
    r = policy.check_uscc(raw)
    assert isinstance(r, policy.UsccCheck)
    if r.ok:
        assert len(r.value) == 18 and all(c in policy.USCC_CHARS for c in r.value)
    else:
        assert r.code and r.message


@FUZZ
@given(
    st.lists(USCC_ALPHABET, min_size=2, max_size=2),
    st.integers(0, 999999),
    st.lists(USCC_ALPHABET, min_size=9, max_size=9),
    st.booleans(),
)
def test_generated_valid_codes_are_accepted(head, region, org, spaced):
    first17 = "".join(head) + f"{region:06d}" + "".join(org)
    code = first17 + policy.uscc_check_char(first17)
    raw = f"{code[:8]} {code[8:].lower()}" if spaced else code
    r = policy.check_uscc(raw)
    assert r.ok, r
    assert r.value == code


@FUZZ
@given(st.lists(USCC_ALPHABET, min_size=17, max_size=17).map("".join), USCC_ALPHABET)
def test_only_the_right_check_character_passes(first17, check):
    first17 = first17[:2] + "150102" + first17[8:]
    assert policy.check_uscc(first17 + check).ok is (check == policy.uscc_check_char(first17))
