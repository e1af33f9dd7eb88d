"""invoicing's part of the account's life (cpe.accounts.lifecycle): invoices in the data copy, the
transfers to the e-invoice service (rules R14.3), and on closing (rules R11) the buyer's name and
taxpayer ID erased from live invoices, which stay as tax records (sealed into the archive).
Registered by InvoicingConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display, yuan
from cpe.accounts.policy import CLOSED_NAME

from .models import Invoice

INVOICE_RECIPIENT = "电子发票服务平台（税务机关数电票服务）"
INVOICE_FIELDS = "发票抬头、纳税人识别号（如有）、项目名称、金额"


def _invoices(user):
    return Invoice.objects.filter(order__user=user).select_related("order").order_by("issued_at", "id")


def _transfers(user) -> list[dict]:
    """The e-invoice service, once per invoice."""
    return [
        {
            "接收方": INVOICE_RECIPIENT,
            "目的": "开具电子发票",
            "提供的信息": INVOICE_FIELDS,
            "时间": lifecycle.fmt(inv.issued_at),
            "关联记录": f"发票 {inv.number}（订单 {inv.order.number}）",
        }
        for inv in _invoices(user)
    ]


def _scrub(user, at) -> int:
    # Issued invoices refuse model saves (immutable records); erasing their personal fields on
    # closing is the one sanctioned change, done by QuerySet.update.
    return Invoice.objects.filter(order__user=user).update(buyer_name=CLOSED_NAME, taxpayer_id="")


def _archive(user) -> dict:
    return {
        "invoices": [
            {
                "number": i.number,
                "order": i.order.number,
                "kind": i.kind,
                "buyer_type": i.buyer_type,
                "buyer_name": i.buyer_name,
                "taxpayer_id": i.taxpayer_id,
                "total_fen": i.total_fen,
                "issued_at": i.issued_at.isoformat() if i.issued_at else None,
                "status": i.status,
                "pdf": i.pdf.name,
            }
            for i in Invoice.objects.filter(order__user=user).select_related("order").order_by("id")
        ]
    }


def register() -> None:
    lifecycle.register_section(
        Section(
            "发票",
            _invoices,
            order=80,
            models=("invoicing.Invoice",),
            columns=(
                ("发票号码", "number"),
                ("订单号", "order.number"),
                ("发票类型", display("kind")),
                ("抬头类型", display("buyer_type")),
                ("发票抬头", "buyer_name"),
                ("纳税人识别号", "taxpayer_id"),
                ("项目名称", "item_name"),
                ("价税合计（元）", yuan("total_fen")),
                ("状态", display("status")),
                ("开票时间", "issued_at"),
                ("红冲时间", "reversed_at"),
            ),
        )
    )
    lifecycle.register_transfers("invoicing.issuer", _transfers, order=30)
    lifecycle.register_closing_step(
        ClosingStep(
            "invoices",
            order=60,
            models=("invoicing.Invoice",),
            reason="paid: kept as tax records without the buyer's name and taxpayer ID "
            "(sealed with them into "
            "the archive); a never-paid account has no invoice",
            scrub=_scrub,
            archive=_archive,
        )
    )
    lifecycle.register_message_labels(
        {"invoice.ready": "电子发票开具通知", "invoice.reversed": "电子发票红冲通知"}
    )
