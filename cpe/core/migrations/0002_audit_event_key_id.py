from django.db import migrations, models


class Migration(migrations.Migration):
    """The audit chain's key id. Existing events get "": they keep their plain SHA-256 hashes and
    verify as such; the first event written after this chains onto the last of them with a key."""

    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="密钥编号"),
        ),
    ]
