"""Web sessions move into the database, keyed by the keyed hash of the session key (decision
0018; the cache keeps a copy in front). Django's own session table held raw session keys (the
embedded default's sessions): they are deleted, as nothing reads them any more. Sessions that
lived in the Redis cache only are moved into the new table by the store itself at their next
request (``cpe.accounts.sessions``), so nobody is signed out by this change."""

from django.db import migrations, models


def forget_raw_keys(apps, schema_editor):
    apps.get_model("sessions", "Session").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_identity_change_id_photo"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="StoredSession",
            fields=[
                ("key_hash", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("session_data", models.TextField()),
                ("expire_date", models.DateTimeField(db_index=True)),
            ],
            options={
                "verbose_name": "会话",
                "verbose_name_plural": "会话",
            },
        ),
        migrations.RunPython(forget_raw_keys, migrations.RunPython.noop),
    ]
