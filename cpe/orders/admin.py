"""Finance's view of orders, payments and the refund queue. Decisions go through services."""
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse

from cpe.core.errors import ApplicationError

from . import services
from .models import Order, PaymentNotification, Refund
from .states import RefundStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "user", "subject", "amount_fen", "status", "gateway", "created_at", "paid_at"]
    list_filter = ["status", "gateway", "product__year"]
    search_fields = ["number", "gateway_txn_id"]
    date_hierarchy = "created_at"


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "gateway", "order", "outcome", "notify_id"]
    list_filter = ["gateway", "outcome"]
    search_fields = ["notify_id", "order__number"]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """The refund queue: approve (pays back through the same gateway) or reject with a note."""

    list_display = ["refund_no", "order", "amount_fen", "status", "requested_at", "decided_by"]
    list_filter = ["status"]
    search_fields = ["refund_no", "order__number"]
    fields = ["refund_no", "order", "amount_fen", "reason", "status", "requested_at", "decided_at", "decided_by",
              "gateway_refund_id", "refunded_at", "last_error", "decision_note"]
    readonly_fields = [f for f in fields if f != "decision_note"]
    change_form_template = "admin/orders/refund/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != RefundStatus.REQUESTED:
            return self.fields
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Only the approve/reject buttons change anything (response_change)."""

    def response_change(self, request, obj):
        approve, reject = "_approve" in request.POST, "_reject" in request.POST
        if approve or reject:
            note = request.POST.get("decision_note", "")
            try:
                if approve:
                    refund = services.refund_approve(refund_id=obj.pk, reviewer=request.user, note=note)
                    if refund.status == RefundStatus.SUCCEEDED:
                        self.message_user(request, f"已退款 {refund.amount_fen / 100:.2f} 元，课程已关闭。")
                    else:
                        self.message_user(request, f"退款处理中：{refund.get_status_display()} {refund.last_error}",
                                          messages.WARNING)
                else:
                    services.refund_reject(refund_id=obj.pk, reviewer=request.user, note=note)
                    self.message_user(request, "已驳回。")
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return redirect(request.path)
            return redirect(reverse("admin:orders_refund_changelist"))
        return super().response_change(request, obj)
