"""Model fields for personal data: an encrypted text column and its blind index."""

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from . import crypto


class Sealed:
    """An encrypted column's stored text on an instance, decrypted when the attribute is first
    read. Only cpe.core.rows.PkReader builds instances holding these (the signed-in user's row,
    read on every request, whose personal data most requests never show); the ORM decrypts as
    it reads."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token

    def __repr__(self):
        return "<Sealed>"


class SealedAttribute(DeferredAttribute):
    """The attribute of an EncryptedTextField: a Sealed value is decrypted (once) when read."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        data = instance.__dict__
        name = self.field.attname
        if name in data:
            value = data[name]
            if type(value) is Sealed:
                value = data[name] = crypto.decrypt(value.token, self.field.aad)
            return value
        return super().__get__(instance, cls)  # a deferred field: read from the database

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Clear text in Python, AES-GCM ciphertext in the database (see crypto.py).

    Lookups on this field cannot match (each encryption is random): query the blind index."""

    descriptor_class = SealedAttribute

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
