import pytest

from cpe.core import crypto


def test_roundtrip_and_randomised():
    a = crypto.encrypt("150102199003071237", "accounts.user.id_number")
    b = crypto.encrypt("150102199003071237", "accounts.user.id_number")
    assert a != b and "150102199003071237" not in a
    assert crypto.decrypt(a, "accounts.user.id_number") == "150102199003071237"


def test_ciphertext_moved_to_another_column_does_not_decrypt():
    token = crypto.encrypt("13800000001", "accounts.user.mobile")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, "accounts.user.email")


def test_tampered_or_unknown_key_refused_not_returned_as_ciphertext():
    token = crypto.encrypt("x@example.com", "accounts.user.email")
    prefix, kid, body = token.split(":")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(f"{prefix}:{kid}:{flipped}", "accounts.user.email")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(f"{prefix}:nokey:{body}", "accounts.user.email")


def test_key_rotation_reads_old_values(monkeypatch):
    import base64
    import secrets

    old = crypto.encrypt("13800000001", "t.c.f")
    current = crypto.field_keys()
    new_key = secrets.token_bytes(32)
    rotated = crypto.FieldKeys({**current.keys, "k9": new_key}, "k9", current.index_key)
    monkeypatch.setattr(crypto, "field_keys", lambda: rotated)
    assert crypto.encrypt("a", "t.c.f").split(":")[1] == "k9"
    assert crypto.decrypt(old, "t.c.f") == "13800000001"
    assert base64  # keeps the import honest


def test_blind_index_is_keyed_normalised_and_kind_separated():
    assert crypto.blind_index("id_number", "11010519491231002x") == crypto.blind_index(
        "id_number", "11010519491231002X"
    )
    assert crypto.blind_index("mobile", "13800000001") != crypto.blind_index("code_target", "13800000001")
    import hashlib

    assert crypto.blind_index("mobile", "13800000001") != hashlib.sha256(b"13800000001").hexdigest()
