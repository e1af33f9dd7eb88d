"""User.session_key held the account's current session key in clear: anyone who could read or
filter that column could sign in as the account. It becomes session_key_hash, the keyed hash
crypto.blind_index("session_key", <key>); existing values are hashed in place, so signed-in
users stay signed in. Going back cannot recover the keys: it empties the column (the next
sign-in of each account records its session again)."""

from django.db import migrations

BATCH = 2000


def hash_existing(apps, schema_editor):
    from cpe.core import crypto

    User = apps.get_model("accounts", "User")
    rows = User.objects.exclude(session_key_hash="").values_list("pk", "session_key_hash")
    changed = []
    for pk, raw in rows.iterator(chunk_size=BATCH):
        user = User(pk=pk, session_key_hash=crypto.blind_index("session_key", raw))
        changed.append(user)
        if len(changed) >= BATCH:
            User.objects.bulk_update(changed, ["session_key_hash"])
            changed = []
    if changed:
        User.objects.bulk_update(changed, ["session_key_hash"])


def forget_all(apps, schema_editor):
    apps.get_model("accounts", "User").objects.update(session_key_hash="")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_archived_account"),
    ]

    operations = [
        migrations.RenameField(model_name="user", old_name="session_key", new_name="session_key_hash"),
        migrations.RunPython(hash_existing, forget_all),
    ]
