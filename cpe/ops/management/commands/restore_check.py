"""What a restored database holds, in a form two databases can be compared by: the row count
of every table, and a digest of every encrypted column's clear values (read through the field
keys of this process's environment). Run on the source and on the restore: the lines must be
equal. A value that the keys cannot decrypt stops the command with an error: a dump restored
without its keys is unreadable, which is the point of keeping them apart (docs/deploy.md)."""

import hashlib

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from cpe.core.crypto import DecryptionError
from cpe.core.fields import EncryptedTextField


class Command(BaseCommand):
    help = "数据库恢复核对：各表行数与全部加密字段明文的摘要（在源库与恢复库上各运行一次并比对）。"

    def handle(self, *args, **options):
        rows, fields, values = 0, 0, 0
        digest = hashlib.sha256()
        for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
            if not model._meta.managed or model._meta.proxy:
                continue
            n = model._default_manager.count()
            rows += n
            digest.update(f"{model._meta.label}:{n};".encode())
            encrypted = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not encrypted:
                continue
            fields += len(encrypted)
            try:
                for pk, *clear in (
                    model._default_manager.order_by("pk").values_list("pk", *encrypted).iterator()
                ):
                    for name, value in zip(encrypted, clear, strict=True):
                        if value:
                            values += 1
                            digest.update(f"{model._meta.label}.{name}#{pk}={value};".encode())
            except DecryptionError as exc:
                raise CommandError(
                    f"{model._meta.label} 的加密字段无法解密：密钥与数据库不匹配（{exc}）"
                ) from exc
        self.stdout.write(
            f"tables_rows={rows} encrypted_columns={fields} encrypted_values={values} "
            f"digest={digest.hexdigest()[:24]}"
        )
