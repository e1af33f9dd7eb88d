"""Staff site for rules R12: "账号处置" (learners: terminate, ban) and "封禁" (IP bans, lifting).
Masked data only; every decision goes through services.py (which audits)."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import render
from django.utils import timezone

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.errors import ApplicationError
from cpe.core.net import client_ip

from . import policy, services
from .forms import AccountBanForm, NetworkBanForm, TerminateForm
from .models import Ban, LearnerAccount
from .states import BanKind


def _ip(request):
    return client_ip(request.META)


@admin.register(LearnerAccount)
class LearnerAccountAdmin(SafeModelAdmin):
    list_display = ["name", "id_number_masked", "region", "status", "status_reason", "banned_flag"]
    list_filter = ["status", "status_reason", "region"]
    search_fields = ["name"]
    # By name only: a full ID number typed here would travel in every link's ?q= and the access
    # log (rules R14 keeps it encrypted and masked).
    search_help_text = "按姓名搜索"
    ordering = ["-date_joined"]
    fields = [
        "name",
        "id_number_masked",
        "region",
        "status",
        "status_reason",
        "status_note",
        "status_changed_at",
        "date_joined",
    ]
    readonly_fields = fields
    actions = ["terminate", "ban"]

    def get_queryset(self, request):
        now = timezone.now()
        live = Ban.objects.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            user=OuterRef("pk"),
            kind=BanKind.ACCOUNT,
            lifted_at__isnull=True,
            starts_at__lte=now,
        )
        return super().get_queryset(request).filter(is_staff=False).annotate(banned=Exists(live))

    @admin.display(description="身份证号码")
    def id_number_masked(self, obj):
        return obj.id_number_masked

    @admin.display(description="封禁中", boolean=True)
    def banned_flag(self, obj):
        return obj.banned

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_terminate_permission(self, request):
        return request.user.has_perm("moderation.terminate_learneraccount")

    def has_ban_permission(self, request):
        return request.user.has_perm("moderation.ban_learneraccount")

    def _form_action(self, request, queryset, *, action, title, form_class, apply, notice=""):
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for user in queryset:
                try:
                    apply(user, form.cleaned_data)
                    done += 1
                except ApplicationError as exc:
                    self.message_user(
                        request, f"{user.name}（{user.id_number_masked}）：{exc.message}", messages.ERROR
                    )
            if done:
                self.message_user(request, f"已处理 {done} 个账号。", messages.SUCCESS)
            return None
        return render(
            request,
            "moderation/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": action,
                "notice": notice,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="终止服务（选择原因）", permissions=["terminate"])
    def terminate(self, request, queryset):
        return self._form_action(
            request,
            queryset,
            action="terminate",
            title="终止账号服务",
            form_class=TerminateForm,
            notice=(
                "终止后该账号不能再登录，学员会收到短信（邮箱已验证的还有邮件）通知，内含原因和申诉方式。"
                "因“联系方式失效”终止的，学员用原密码登录并验证手机号码后即自行恢复服务；"
                "因“违反用户协议”终止的，本人不能以同一身份证号码再次注册。"
            ),
            apply=lambda u, d: services.learner_terminate(
                user_id=u.pk, reason=d["reason"], note=d["note"], actor=request.user
            ),
        )

    @admin.action(description="封禁账号", permissions=["ban"])
    def ban(self, request, queryset):
        return self._form_action(
            request,
            queryset,
            action="ban",
            title="封禁账号",
            form_class=AccountBanForm,
            notice=(
                "封禁立即生效：学员当前的登录会在下一次访问时退出，并看到封禁说明；"
                "学员会收到短信（邮箱已验证的还有邮件）通知，内含原因、期限和申诉方式。"
            ),
            apply=lambda u, d: services.ban_account(
                user_id=u.pk, reason=d["reason"], ends_at=d["ends_at"], actor=request.user, ip=_ip(request)
            ),
        )


@admin.register(Ban)
class BanAdmin(SafeModelAdmin):
    """IP bans are added here; account bans from "账号处置". A ban is never edited or deleted: it
    is lifted."""

    form = NetworkBanForm
    list_display = ["kind", "target", "reason_short", "starts_at", "ends_at", "state", "created_by"]
    list_filter = ["kind"]
    search_fields = ["network"]
    actions = ["lift"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["network", "reason", "ends_at"]
        return [
            "kind",
            "target",
            "reason",
            "starts_at",
            "ends_at",
            "state",
            "created_by",
            "created_at",
            "lifted_at",
            "lifted_by",
            "lift_note",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description="对象")
    def target(self, obj):
        if obj.kind == BanKind.NETWORK:
            return obj.network
        return f"{obj.user.name}（{obj.user.id_number_masked}）" if obj.user_id else ""

    @admin.display(description="原因")
    def reason_short(self, obj):
        return obj.reason[:40]

    @admin.display(description="状态")
    def state(self, obj):
        now = timezone.now()
        if obj.lifted_at is not None:
            return "已解除"
        if obj.starts_at > now:
            return "未开始"
        return (
            "生效中"
            if policy.ban_active(starts_at=obj.starts_at, ends_at=obj.ends_at, lifted_at=None, at=now)
            else "已到期"
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "created_by")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_lift_permission(self, request):
        return request.user.has_perm("moderation.change_ban")

    def save_model(self, request, obj, form, change):
        ban = services.ban_network(
            network=form.cleaned_data["network"],
            reason=form.cleaned_data["reason"],
            ends_at=form.cleaned_data.get("ends_at"),
            actor=request.user,
            ip=_ip(request),
        )
        obj.__dict__.update({k: v for k, v in ban.__dict__.items() if k != "_state"})
        obj._state.adding, obj._state.db = False, ban._state.db

    @admin.action(description="解除所选封禁", permissions=["lift"])
    def lift(self, request, queryset):
        done = 0
        for ban in queryset:
            try:
                services.ban_lift(ban_id=ban.pk, actor=request.user, ip=_ip(request))
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{ban}：{exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"已解除 {done} 条封禁。", messages.SUCCESS)
