"""Staff site for accounts: masked data only; decisions go through services."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.audit import audit_record
from cpe.core.errors import ApplicationError
from cpe.core.masking import mask_id_number, mask_name
from cpe.core.net import client_ip

from . import services
from .models import ArchivedAccount, IdentityChangeRequest, LoginRecord, User
from .states import ChangeStatus, MinorReview


class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


@admin.register(User)
class UserAdmin(SafeModelAdmin):
    list_display = [
        "name",
        "id_number_masked",
        "mobile_masked",
        "region",
        "status",
        "on_hold_flag",
        "minor_review",
        "ais_status",
        "date_joined",
    ]
    list_filter = ["is_staff", "status", "minor_review", "region", "ais_status"]
    search_fields = ["name", "username"]
    ordering = ["-date_joined"]
    fields = [
        "username",
        "name",
        "id_number_masked",
        "mobile_masked",
        "email_masked",
        "employer",
        "region",
        "status",
        "status_reason",
        "status_note",
        "correction_reason",
        "correction_set_at",
        "self_supporting",
        "minor_review",
        "ais_status",
        "date_joined",
        "last_login",
        "is_staff",
        "groups",
    ]
    readonly_fields = [f for f in fields if f != "groups"]
    actions = ["set_hold", "clear_hold", "approve_minor", "reject_minor", "reset_second_factor"]

    @admin.display(description="身份证号码")
    def id_number_masked(self, obj):
        return obj.id_number_masked

    @admin.display(description="手机号码")
    def mobile_masked(self, obj):
        return obj.mobile_masked

    @admin.display(description="电子邮箱")
    def email_masked(self, obj):
        return obj.email_masked

    @admin.display(description="待更正", boolean=True)
    def on_hold_flag(self, obj):
        return obj.on_hold

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/reveal/", self.admin_site.admin_view(self.reveal_view), name="accounts_user_reveal"
            ),
        ] + super().get_urls()

    def reveal_view(self, request, pk):
        """The clear identity, for staff with the permission; every view is audited (rules R14)."""
        if not request.user.has_perm("accounts.view_identity"):
            messages.error(request, "您没有查看完整身份信息的权限。")
            return redirect(reverse("admin:accounts_user_change", args=[pk]))
        user = get_object_or_404(User, pk=pk)
        audit_record(
            "account.identity_viewed",
            actor=request.user,
            subject=user,
            ip=client_ip(request.META),
            data={"fields": ["id_number", "mobile", "email"]},
        )
        return render(
            request,
            "admin/accounts/reveal.html",
            {**self.admin_site.each_context(request), "subject": user, "title": "完整身份信息"},
        )

    def _with_reason(self, request, queryset, action, title, apply):
        if "apply" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                done = 0
                for user in queryset:
                    try:
                        apply(user, form.cleaned_data["reason"])
                        done += 1
                    except ApplicationError as exc:
                        self.message_user(request, f"{user}：{exc.message}", messages.ERROR)
                self.message_user(request, f"已处理 {done} 个账号。")
                return None
        else:
            form = ReasonForm()
        return render(
            request,
            "admin/accounts/reason_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": action,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="设置“待更正”（需填写原因）", permissions=["hold"])
    def set_hold(self, request, queryset):
        return self._with_reason(
            request,
            queryset,
            "set_hold",
            "设置待更正",
            lambda u, r: services.correction_hold_set(user_id=u.pk, reason=r, actor=request.user),
        )

    @admin.action(description="解除“待更正”", permissions=["hold"])
    def clear_hold(self, request, queryset):
        for user in queryset:
            services.correction_hold_clear(user_id=user.pk, actor=request.user)
        self.message_user(request, "已解除。")

    @admin.action(description="通过未成年自立声明", permissions=["review"])
    def approve_minor(self, request, queryset):
        for user in queryset.filter(minor_review=MinorReview.PENDING):
            services.minor_review_decide(user_id=user.pk, approve=True, reviewer=request.user)
        self.message_user(request, "已处理。")

    @admin.action(description="驳回未成年自立声明（终止服务，需填写原因）", permissions=["review"])
    def reject_minor(self, request, queryset):
        return self._with_reason(
            request,
            queryset.filter(minor_review=MinorReview.PENDING),
            "reject_minor",
            "驳回未成年自立声明",
            lambda u, r: services.minor_review_decide(
                user_id=u.pk, approve=False, reviewer=request.user, note=r
            ),
        )

    @admin.action(
        description="重置所选工作人员的两步验证（仅超级管理员）", permissions=["second_factor_reset"]
    )
    def reset_second_factor(self, request, queryset):
        """Lost phone and recovery codes: the staff member enrols again at the next sign-in."""
        from . import second_factor

        done = 0
        for user in queryset:
            try:
                done += second_factor.reset(actor=request.user, user=user, ip=client_ip(request.META))
            except ApplicationError as exc:
                self.message_user(request, f"{user}：{exc.message}", messages.ERROR)
        self.message_user(request, f"已重置 {done} 个工作人员的两步验证；他们下次登录时需重新绑定。")

    def has_second_factor_reset_permission(self, request):
        return request.user.is_superuser

    def has_hold_permission(self, request):
        return request.user.has_perm("accounts.set_correction_hold")

    def has_review_permission(self, request):
        return request.user.has_perm("accounts.review_identity")


@admin.register(IdentityChangeRequest)
class IdentityChangeRequestAdmin(SafeModelAdmin):
    """The reviewer queue for name and ID number changes."""

    list_display = [
        "id",
        "learner",
        "field",
        "current_value",
        "new_value_masked",
        "status",
        "created_at",
        "decided_by",
    ]
    list_select_related = ["user", "decided_by"]
    list_filter = ["status", "field"]
    fields = [
        "learner",
        "current_value",
        "field",
        "new_value_masked",
        "full_values",
        "conflict",
        "reason",
        "status",
        "created_at",
        "decided_at",
        "decided_by",
        "decision_note",
    ]
    readonly_fields = [
        "learner",
        "current_value",
        "field",
        "new_value_masked",
        "full_values",
        "conflict",
        "reason",
        "status",
        "created_at",
        "decided_at",
        "decided_by",
    ]
    change_form_template = "admin/accounts/identitychangerequest/change_form.html"

    @staticmethod
    def may_reveal(user) -> bool:
        """Who may see a request's values in full: whoever reviews identity changes (they judge
        exactly these values). Only this request's name and ID number, audited; the learner's
        whole identity on the user page stays behind view_identity (superuser only)."""
        return user.has_perm("accounts.review_identity")

    @staticmethod
    def _photo_line(obj):
        from .models import IdentityDocument

        return (
            "附有身份证照片。"
            if IdentityDocument.objects.filter(request=obj).exists()
            else "未附身份证照片。"
        )

    @admin.display(description="完整信息")
    def full_values(self, obj):
        url = reverse("admin:accounts_identitychangerequest_reveal", args=[obj.pk])
        return format_html(
            '{} <a href="{}" id="reveal-link">查看当前与申请的姓名、身份证号码及照片'
            "（完整，记入审计日志）</a>",
            self._photo_line(obj),
            url,
        )

    @admin.display(description="完整信息")
    def full_values_denied(self, obj):
        return f"{self._photo_line(obj)}您没有查看完整身份信息的权限。"

    def _for(self, request, names):
        """The field list for this request: the reveal link only for who may reveal (chosen per
        request, never stored on the shared admin instance)."""
        return [
            n if n != "full_values" or self.may_reveal(request.user) else "full_values_denied" for n in names
        ]

    def get_fields(self, request, obj=None):
        return self._for(request, self.fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != ChangeStatus.PENDING:
            return self._for(request, self.fields)
        return self._for(request, self.readonly_fields)

    def get_urls(self):
        return [
            path(
                "<int:pk>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="accounts_identitychangerequest_reveal",
            ),
            path(
                "<int:pk>/document/",
                self.admin_site.admin_view(self.document_view),
                name="accounts_identitychangerequest_document",
            ),
        ] + super().get_urls()

    def document_view(self, request, pk):
        """The ID card photo of a pending request, for the same reviewers as the reveal; every
        view is audited. Served as the image type its signature showed, never cached, never
        sniffed into anything else."""
        import base64

        from django.core.exceptions import PermissionDenied
        from django.http import Http404, HttpResponse

        from .models import IdentityDocument

        if not self.may_reveal(request.user):
            raise PermissionDenied
        doc = IdentityDocument.objects.select_related("request").filter(request_id=pk).first()
        if doc is None:
            raise Http404("该申请没有身份证照片（或已在审核后删除）。")
        audit_record(
            "identity_change.document_viewed",
            actor=request.user,
            subject=doc.request,
            ip=client_ip(request.META),
            data={"user": doc.request.user_id, "size": doc.size},
        )
        response = HttpResponse(base64.b64decode(doc.data), content_type=doc.content_type)
        response["Cache-Control"] = "no-store, private"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="id-photo-{pk}"'
        return response

    def reveal_view(self, request, pk):
        """The current and the requested name and ID number in full, for a reviewer (may_reveal);
        every view is audited (the same event as the user page's reveal)."""
        if not self.may_reveal(request.user):
            messages.error(request, "您没有查看完整身份信息的权限。")
            return redirect(reverse("admin:accounts_identitychangerequest_changelist"))
        req = get_object_or_404(IdentityChangeRequest.objects.select_related("user"), pk=pk)
        audit_record(
            "account.identity_viewed",
            actor=request.user,
            subject=req.user,
            ip=client_ip(request.META),
            data={"fields": ["name", "id_number"], "request": req.pk, "requested": req.field},
        )
        from .models import IdentityDocument

        return render(
            request,
            "admin/accounts/identitychangerequest/reveal.html",
            {
                **self.admin_site.each_context(request),
                "req": req,
                "subject": req.user,
                "has_photo": IdentityDocument.objects.filter(request=req).exists(),
                "opts": self.model._meta,
                "title": "身份信息变更：完整信息",
            },
        )

    # Current and requested values masked alike on the list and change pages (rules R14); in
    # full only on the audited reveal page. The learner is named masked too (User.__str__ is the
    # full name).
    @admin.display(description="学员")
    def learner(self, obj):
        return f"{mask_name(obj.user.name)}（{obj.user.username}）"

    @admin.display(description="当前值")
    def current_value(self, obj):
        return mask_id_number(obj.user.id_number) if obj.field == "id_number" else mask_name(obj.user.name)

    @admin.display(description="新值")
    def new_value_masked(self, obj):
        return obj.new_value_masked

    @admin.display(description="冲突")
    def conflict(self, obj):
        """The learner is told nothing about who holds an ID number; the reviewer is."""
        from .selectors import identity_change_conflict

        return "该身份证号码已属于其他账号，不能批准" if identity_change_conflict(obj) else "无"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Only the approve/reject buttons change anything; handled in response_change."""

    def response_change(self, request, obj):
        decision = "_approve" in request.POST, "_reject" in request.POST
        if any(decision):
            try:
                services.identity_change_decide(
                    change_id=obj.pk,
                    approve=decision[0],
                    reviewer=request.user,
                    note=request.POST.get("decision_note", ""),
                    at=timezone.now(),
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return redirect(request.path)
            self.message_user(request, "已批准并更新用户资料。" if decision[0] else "已驳回。")
            return redirect(reverse("admin:accounts_identitychangerequest_changelist"))
        return super().response_change(request, obj)


@admin.register(LoginRecord)
class LoginRecordAdmin(SafeModelAdmin):
    list_display = ["at", "user", "ip", "is_new_device", "ended_other_session"]
    list_filter = ["is_new_device"]
    fields = ["user", "at", "ip", "user_agent", "is_new_device", "ended_other_session"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ArchivedAccount)
class ArchivedAccountAdmin(SafeModelAdmin):
    """Closed accounts' archives (rules R11.3): metadata for the superuser only, never the sealed
    content (not a field here, and nothing in the site opens it); no adding, editing or deleting
    (the scheduled purge deletes, and audits it)."""

    list_display = ["id", "user_id", "key_id", "archived_at", "last_transaction_at", "purge_after"]
    fields = ["id", "user_id", "key_id", "archived_at", "last_transaction_at", "purge_after"]
    readonly_fields = fields
    ordering = ["purge_after"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
