"""Model fields for personal data: an encrypted text column and its blind index."""

from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """Clear text in Python, AES-GCM ciphertext in the database (see crypto.py).

    Lookups on this field cannot match (each encryption is random): query the blind index."""

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.aad = f"{cls._meta.app_label}.{cls._meta.model_name}.{name}"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value, self.aad)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return crypto.decrypt(value, self.aad)


class BlindIndexField(models.CharField):
    """HMAC of another field's normalised clear value, computed on save.

    ``save()`` and ``bulk_create()`` run ``pre_save``; ``QuerySet.update()`` does not, so
    services never update an encrypted field through ``update()``."""

    def __init__(self, *args, source: str, kind: str, **kwargs):
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        clear = getattr(model_instance, self.source)
        value = crypto.blind_index(self.kind, clear) if clear else None
        setattr(model_instance, self.attname, value)
        return value
