import secrets

from django.db import models

from cpe.core.masking import mask_name
from cpe.core.money import fen_to_yuan
from cpe.core.storage import NamedStorage

from . import policy
from .states import BuyerType, InvoiceKind, InvoiceStatus, UnitKind


def new_verify_token() -> str:
    """192 random bits, URL-safe: the verification page is public, so the token is the only
    thing standing between a stranger and the invoice's facts."""
    return secrets.token_urlsafe(24)


def invoice_pdf_path(instance, filename):
    """invoices/<year>/<number>-<random>.pdf: not guessable even if MEDIA is ever served
    directly (it must not be: the download view checks the owner)."""
    return f"invoices/{instance.issued_at:%Y}/{instance.number}-{secrets.token_hex(8)}.pdf"


def _documents_storage():
    """The private "documents" storage (MEDIA_ROOT, or the bucket's private prefix)."""

    return NamedStorage("documents")


class InvoiceQuerySet(models.QuerySet):
    def blue(self):
        return self.filter(kind=InvoiceKind.BLUE)

    def valid_blue(self):
        """Blue invoices not reversed: at most one per order."""
        return self.filter(kind=InvoiceKind.BLUE, status=InvoiceStatus.ISSUED)


class Invoice(models.Model):
    """An issued VAT electronic ordinary invoice (数电票) or its red-letter reversal.

    Immutable once issued (rules R6, R5.2): a mistake or a refund is corrected by a red invoice
    that points at the blue one, never by editing. The only later change is the blue invoice's
    status moving to `reversed` (see `save`). Amounts are signed fen: a red invoice carries the
    negated figures of the blue one, so sums over invoices are right."""

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="invoices", verbose_name="订单"
    )
    kind = models.CharField("发票类型", max_length=8, choices=InvoiceKind.choices, default=InvoiceKind.BLUE)
    original = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal",
        verbose_name="被冲销的蓝字发票",
    )
    number = models.CharField("发票号码", max_length=20, unique=True)
    buyer_type = models.CharField("抬头类型", max_length=10, choices=BuyerType.choices)
    buyer_name = models.CharField("购买方名称", max_length=policy.BUYER_NAME_MAX)
    unit_kind = models.CharField("单位类型", max_length=12, choices=UnitKind.choices, blank=True)
    taxpayer_id = models.CharField("购买方纳税人识别号", max_length=18, blank=True)
    seller_name = models.CharField("销售方名称", max_length=100)
    seller_taxpayer_id = models.CharField("销售方纳税人识别号", max_length=18)
    item_name = models.CharField("项目名称", max_length=100)
    total_fen = models.BigIntegerField("价税合计（分）")
    net_fen = models.BigIntegerField("金额（分）")
    tax_fen = models.BigIntegerField("税额（分）")
    tax_rate_permille = models.PositiveSmallIntegerField("税率（‰）")
    status = models.CharField(
        "状态", max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED
    )
    issued_at = models.DateTimeField("开票时间", db_index=True)
    reversed_at = models.DateTimeField("红冲时间", null=True, blank=True)
    reason = models.CharField("红冲原因", max_length=200, blank=True)
    pdf = models.FileField("PDF", upload_to=invoice_pdf_path, storage=_documents_storage, max_length=200)
    verify_token = models.CharField(
        "查验令牌", max_length=64, unique=True, default=new_verify_token, editable=False
    )
    provider = models.CharField("开票通道", max_length=100)

    objects = InvoiceQuerySet.as_manager()

    # Fields that may change after issue: the blue invoice's reversal, nothing else.
    MUTABLE_FIELDS = frozenset({"status", "reversed_at"})

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = verbose_name_plural = "发票"
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="blue", status="issued"),
                name="one_valid_blue_invoice_per_order",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="blue", original__isnull=True, total_fen__gt=0)
                    | models.Q(kind="red", original__isnull=False, total_fen__lt=0, status="issued")
                ),
                name="invoice_kind_sign_and_original",
            ),
            models.CheckConstraint(
                condition=models.Q(total_fen=models.F("net_fen") + models.F("tax_fen")),
                name="invoice_total_is_net_plus_tax",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(buyer_type="personal", taxpayer_id="", unit_kind="")
                    | (models.Q(buyer_type="unit") & ~models.Q(unit_kind=""))
                ),
                name="invoice_buyer_fields_match_type",
            ),
            models.CheckConstraint(
                condition=models.Q(status="issued", reversed_at__isnull=True)
                | models.Q(status="reversed", reversed_at__isnull=False),
                name="invoice_reversed_has_time",
            ),
        ]

    def __str__(self):
        return self.number

    def save(self, *args, **kwargs):
        """Refuse any change to an issued invoice except its reversal."""
        if self.pk is not None and not kwargs.get("force_insert"):
            fields = kwargs.get("update_fields")
            if fields is None or not set(fields) <= self.MUTABLE_FIELDS:
                raise ValueError("an issued invoice is immutable; reverse it with a red invoice")
        super().save(*args, **kwargs)

    @property
    def is_red(self):
        return self.kind == InvoiceKind.RED

    @property
    def is_valid_blue(self):
        return self.kind == InvoiceKind.BLUE and self.status == InvoiceStatus.ISSUED

    @property
    def total_yuan(self):
        return fen_to_yuan(self.total_fen)

    @property
    def total_display(self):
        """ "¥198.00", or "-¥198.00" on a red-letter invoice."""
        return ("-" if self.total_fen < 0 else "") + "¥" + fen_to_yuan(abs(self.total_fen))

    @property
    def net_yuan(self):
        return fen_to_yuan(self.net_fen)

    @property
    def tax_yuan(self):
        return fen_to_yuan(self.tax_fen)

    @property
    def tax_rate_label(self):
        return policy.tax_rate_label(self.tax_rate_permille)

    @property
    def buyer_name_public(self):
        """What the public verification page shows: a person's name masked, a unit's in full."""
        return mask_name(self.buyer_name) if self.buyer_type == BuyerType.PERSONAL else self.buyer_name


class LocalInvoiceNumber(models.Model):
    """The embedded e-invoice stand-in's number allocator (providers/local.py).

    One row per issue request: the row's id is the 15-digit sequence of the 20-digit number.
    Inserts take no lock, so issuing never serialises behind another learner's PDF render;
    a request rolled back leaves a gap, as numbers from the national platform do for any one
    seller. `serial` is the platform's idempotency key (开票流水号): asking again with the
    same key returns the same number."""

    serial = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=20, unique=True, null=True)
    allocated_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "本地开票号码分配"

    def __str__(self):
        return self.number or self.serial
