"""Finance's view of orders, payments and the refund queue. Decisions go through services."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse

from cpe.core.admin_base import ReadOnlyAdmin, SafeModelAdmin
from cpe.core.datefmt import local_datetime
from cpe.core.errors import ApplicationError
from cpe.core.money import fen_to_yuan

from . import services
from .models import Order, PaymentNotification, Refund
from .policy import refund_approval_decision as approval_decision
from .policy import refund_deadline
from .selectors import refund_evidence, year_task_complete
from .states import RefundStatus


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "user", "subject", "amount", "status", "gateway", "created_at", "paid_at"]

    @admin.display(description="金额（元）")
    def amount(self, obj):
        return fen_to_yuan(obj.amount_fen)

    list_filter = ["status", "gateway", "product__year"]
    search_fields = ["number", "gateway_txn_id"]
    date_hierarchy = "created_at"


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "gateway", "order", "outcome", "notify_id"]
    list_filter = ["gateway", "outcome"]
    search_fields = ["notify_id", "order__number"]


@admin.register(Refund)
class RefundAdmin(SafeModelAdmin):
    """The refund queue: approve (pays back through the same gateway) or reject with a note."""

    list_display = ["refund_no", "order", "learner", "amount", "status", "requested_at", "decided_by"]
    list_filter = ["status"]
    search_fields = ["refund_no", "order__number"]
    fields = [
        "refund_no",
        "order",
        "learner",
        "amount",
        "payment",
        "refund_deadline",
        "reason",
        "verdict",
        "evidence",
        "status",
        "requested_at",
        "decided_at",
        "decided_by",
        "gateway_refund_id",
        "refunded_at",
        "last_error",
        "decision_note",
    ]
    readonly_fields = [f for f in fields if f != "decision_note"]
    change_form_template = "admin/orders/refund/change_form.html"

    @admin.display(description="学员")
    def learner(self, obj):
        return f"{obj.order.user.name}（{obj.order.user.mobile_masked}）"

    @admin.display(description="退款金额（元）")
    def amount(self, obj):
        return fen_to_yuan(obj.amount_fen)

    @admin.display(description="原支付")
    def payment(self, obj):
        o = obj.order
        return (
            f"{o.get_gateway_display()} {fen_to_yuan(o.amount_fen)} 元，{local_datetime(o.paid_at)}"
            if o.paid_at
            else "-"
        )

    @admin.display(description="退款政策判断")
    def verdict(self, obj):
        return render_to_string("admin/orders/refund/_verdict.html", {"review": self._evidence(obj).review})

    @admin.display(description="学习与学时情况")
    def evidence(self, obj):
        return render_to_string("admin/orders/refund/_evidence.html", {"ev": self._evidence(obj)})

    def _evidence(self, obj):
        """Read once per page (both fields show parts of it)."""
        if getattr(obj, "_evidence", None) is None:
            obj._evidence = refund_evidence(obj)
        return obj._evidence

    @admin.display(description="退款申请截止")
    def refund_deadline(self, obj):
        o = obj.order
        return local_datetime(refund_deadline(o.paid_at)) if o.paid_at else "-"

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

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Decisions are taken here, outside the admin's request-wide transaction: approving
        commits `processing` before the gateway is called (refund_approve's crash safety),
        and the gateway call must never run inside an open database transaction."""
        if (
            request.method == "POST"
            and object_id
            and ("_approve" in request.POST or "_reject" in request.POST)
        ):
            obj = self.get_object(request, object_id)
            if obj is None or not self.has_change_permission(request, obj):
                from django.core.exceptions import PermissionDenied

                raise PermissionDenied
            return self._decide(request, obj)
        if object_id:
            obj = self.get_object(request, object_id)
            if obj is not None and obj.status == RefundStatus.REQUESTED:
                # The approve button only where refund_approve would act (its own rule).
                o = obj.order
                extra_context = {
                    **(extra_context or {}),
                    "approval": approval_decision(
                        paid_at=o.paid_at,
                        requested_at=obj.requested_at,
                        year_complete=year_task_complete(o.user, o.product.year),
                    ),
                }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _decide(self, request, obj):
        note = request.POST.get("decision_note", "")
        try:
            if "_approve" in request.POST:
                refund = services.refund_approve(refund_id=obj.pk, reviewer=request.user, note=note)
                if refund.status == RefundStatus.SUCCEEDED:
                    self.message_user(request, f"已退款 {fen_to_yuan(refund.amount_fen)} 元，课程已关闭。")
                else:
                    self.message_user(
                        request,
                        "已批准，支付平台暂未确认退款，系统将自动重试；可在本页查看最新状态。",
                        messages.WARNING,
                    )
            else:
                services.refund_reject(refund_id=obj.pk, reviewer=request.user, note=note)
                self.message_user(request, "已驳回。")
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(request.path)
        return redirect(reverse("admin:orders_refund_changelist"))
