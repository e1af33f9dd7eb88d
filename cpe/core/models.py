from django.db import models


class AuditEvent(models.Model):
    """One entry of the hash-chained audit log.

    Each event carries the hash of the one before it, so removing or editing a row breaks
    the chain (``manage.py audit_verify``). The hash is an HMAC under the audit key named by
    ``key_id`` (empty: an event from before the chain had a key, plain SHA-256;
    cpe/core/audit.py). The actor is kept as a plain id and label, not a foreign key:
    deleting an account must not rewrite history. Personal data appears here
    only masked."""

    seq = models.PositiveBigIntegerField("序号", unique=True)
    at = models.DateTimeField("时间")
    actor_id = models.BigIntegerField("操作人ID", null=True, blank=True)
    actor_label = models.CharField("操作人", max_length=100, blank=True)
    event_type = models.CharField("事件类型", max_length=64, db_index=True)
    subject_type = models.CharField("对象类型", max_length=64, blank=True)
    subject_id = models.CharField("对象ID", max_length=64, blank=True, db_index=True)
    data = models.JSONField("内容", default=dict, blank=True)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField("密钥编号", max_length=16, blank=True, default="")

    class Meta:
        ordering = ["-seq"]
        verbose_name = verbose_name_plural = "审计日志"

    def __str__(self):
        return f"#{self.seq} {self.event_type}"


class AuditHead(models.Model):
    """A single row holding the chain's tip; locking it serialises appends on PostgreSQL."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
