"""The account's current session is kept only as a keyed hash (attack review, defect 1): a
reader of the users table (a backup, a log of SQL, an admin filter) learns no session key."""

import importlib

from django.apps import apps
from django.test import Client
from django.urls import reverse

from cpe.accounts.models import User
from cpe.core import crypto

PASSWORD = "Zhang-san-2026"  # the root register_learner fixture's password


def _columns(user_pk):
    row = User.objects.filter(pk=user_pk).values().get()
    return {k: v for k, v in row.items() if isinstance(v, str)}


def test_sign_in_stores_the_hash_of_the_session_key_never_the_key(register_learner):
    user = register_learner()
    first, second = Client(), Client()
    first.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    key = first.session.session_key
    columns = _columns(user.pk)
    assert key not in columns.values() and not any(key in v for v in columns.values())
    assert columns["session_key_hash"] == crypto.blind_index("session_key", key)
    assert first.get(reverse("accounts:dashboard")).status_code == 200
    # The single-session rule still reads it: a second sign-in ends the first.
    second.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    second_key = second.session.session_key
    assert _columns(user.pk)["session_key_hash"] == crypto.blind_index("session_key", second_key)
    r = first.get(reverse("accounts:dashboard"))
    assert r.status_code == 302 and "ended=elsewhere" in r.url
    assert second.get(reverse("accounts:dashboard")).status_code == 200


def test_a_stolen_column_value_is_not_a_session(register_learner):
    """Setting a cookie to the stored value (what an attacker who read the column would do)
    signs nobody in."""
    user = register_learner()
    victim = Client()
    victim.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    column = next(f.name for f in User._meta.concrete_fields if f.name.startswith("session_key"))
    stolen = User.objects.values_list(column, flat=True).get(pk=user.pk)
    assert stolen
    attacker = Client()
    attacker.cookies["sessionid"] = stolen
    r = attacker.get(reverse("accounts:dashboard"))
    assert r.status_code == 302 and reverse("accounts:login") in r.url
    assert victim.get(reverse("accounts:dashboard")).status_code == 200


def test_sign_out_clears_the_hash(register_learner):
    user = register_learner()
    c = Client()
    c.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    c.post(reverse("accounts:logout"))
    assert User.objects.values_list("session_key_hash", flat=True).get(pk=user.pk) == ""


def test_the_migration_hashes_existing_keys_so_signed_in_users_stay_signed_in(register_learner):
    migration = importlib.import_module("cpe.accounts.migrations.0003_session_key_hash")
    user, idle = register_learner(), register_learner()
    c = Client()
    c.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    raw = c.session.session_key
    # The column as the old code left it: the clear key (and "" for an account signed out).
    User.objects.filter(pk=user.pk).update(session_key_hash=raw)
    User.objects.filter(pk=idle.pk).update(session_key_hash="")
    migration.hash_existing(apps, None)
    assert User.objects.values_list("session_key_hash", flat=True).get(pk=user.pk) == crypto.blind_index(
        "session_key", raw
    )
    assert User.objects.values_list("session_key_hash", flat=True).get(pk=idle.pk) == ""
    assert c.get(reverse("accounts:dashboard")).status_code == 200
