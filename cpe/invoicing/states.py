from django.db import models


class InvoiceKind(models.TextChoices):
    BLUE = "blue", "蓝字发票"
    RED = "red", "红字发票"


class InvoiceStatus(models.TextChoices):
    """A blue invoice is `issued` until a red one reverses it; a red invoice stays `issued`.
    Nothing else about an invoice ever changes (an issued invoice is never edited)."""

    ISSUED = "issued", "正常"
    REVERSED = "reversed", "已红冲"


# The only move an issued invoice can make: a blue one is reversed by a red one.
TRANSITIONS = {
    InvoiceStatus.ISSUED: {InvoiceStatus.REVERSED},
    InvoiceStatus.REVERSED: set(),
}


class BuyerType(models.TextChoices):
    PERSONAL = "personal", "个人"
    UNIT = "unit", "单位"


class UnitKind(models.TextChoices):
    """Whether a unit buyer must give its taxpayer ID (rules R6.2: required for enterprises).
    Non-enterprise units (government bodies, public institutions, associations) may leave it
    blank, as the 数电票 rules allow for buyers that are not VAT taxpayers."""

    ENTERPRISE = "enterprise", "企业（含个体工商户）"
    PUBLIC = "public", "行政事业单位"
    OTHER = "other", "其他非企业单位（社会团体、民办非企业单位等）"
