"""Staff site for invoices (finance): read-only. Invoices are never added, edited or deleted
here: they are issued by the learner's request and reversed by a refund (services.py)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.audit import audit_record
from cpe.core.net import client_ip
from cpe.core.storage import file_response

from .models import Invoice


@admin.register(Invoice)
class InvoiceAdmin(SafeModelAdmin):
    list_display = [
        "number",
        "kind",
        "status",
        "buyer_type",
        "buyer_name",
        "taxpayer_id",
        "total_display",
        "tax_display",
        "tax_rate_label",
        "issued_at",
        "order_number",
    ]
    list_filter = ["kind", "status", "buyer_type", "unit_kind", "tax_rate_permille", "issued_at"]
    search_fields = ["number", "order__number", "buyer_name", "taxpayer_id"]
    date_hierarchy = "issued_at"
    list_select_related = ["order"]
    ordering = ["-issued_at"]
    fields = [
        "number",
        "kind",
        "status",
        "original",
        "order_number",
        "buyer_type",
        "buyer_name",
        "unit_kind",
        "taxpayer_id",
        "seller_name",
        "seller_taxpayer_id",
        "item_name",
        "total_display",
        "net_display",
        "tax_display",
        "tax_rate_label",
        "issued_at",
        "reversed_at",
        "reason",
        "provider",
        "pdf_link",
    ]
    readonly_fields = fields

    @admin.display(description="价税合计（元）", ordering="total_fen")
    def total_display(self, obj):
        return obj.total_yuan

    @admin.display(description="金额（元）")
    def net_display(self, obj):
        return obj.net_yuan

    @admin.display(description="税额（元）")
    def tax_display(self, obj):
        return obj.tax_yuan

    @admin.display(description="税率")
    def tax_rate_label(self, obj):
        return obj.tax_rate_label

    @admin.display(description="订单号", ordering="order__number")
    def order_number(self, obj):
        return obj.order.number

    @admin.display(description="PDF")
    def pdf_link(self, obj):
        if not obj.pk or not obj.pdf:
            return "-"
        return format_html(
            '<a href="{}">下载 PDF（记入审计日志）</a>', reverse("admin:invoicing_invoice_pdf", args=[obj.pk])
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("<int:pk>/pdf/", self.admin_site.admin_view(self.pdf_view), name="invoicing_invoice_pdf"),
        ] + super().get_urls()

    def pdf_view(self, request, pk):
        """A staff download of an invoice (it names the buyer): audited (rules R14)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=pk)
        if not invoice.pdf:
            raise Http404
        audit_record(
            "invoice.pdf_viewed_by_staff",
            actor=request.user,
            subject=invoice,
            data={"number": invoice.number},
            ip=client_ip(request.META),
        )
        try:  # a redirect to a short-lived signed URL of the object store, or the file streamed
            return file_response(
                invoice.pdf.storage,
                invoice.pdf.name,
                download_name=f"电子发票_{invoice.number}.pdf",
                content_type="application/pdf",
            )
        except FileNotFoundError:
            raise Http404("发票文件不存在") from None
