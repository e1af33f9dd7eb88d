from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group

from .admin_base import SafeModelAdmin
from .audit_labels import event_label
from .models import AuditEvent

# Django registers Group with its own ModelAdmin (any local field filterable): replace it.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SafeModelAdmin, DjangoGroupAdmin):
    pass


class EventTypeFilter(admin.SimpleListFilter):
    """The event types present, by their Chinese labels (same parameter as before)."""

    title = "事件类型"
    parameter_name = "event_type__exact"

    def lookups(self, request, model_admin):
        codes = AuditEvent.objects.order_by().values_list("event_type", flat=True).distinct()
        return sorted(((c, event_label(c)) for c in codes), key=lambda item: item[0])

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(SafeModelAdmin):
    """The audit log, read-only: each event by its Chinese label, the person who acted (name,
    and for staff their sign-in name) and what it concerned."""

    list_display = ["seq", "at", "event", "actor", "subject", "ip"]
    list_filter = [EventTypeFilter]
    search_fields = ["event_type", "subject_id", "actor_label"]
    readonly_fields = ["seq", "at", "event", "actor", "subject"] + [
        f.name for f in AuditEvent._meta.fields if f.name not in ("id", "seq", "at")
    ]

    def get_queryset(self, request):
        from django.contrib.auth import get_user_model
        from django.db.models import OuterRef, Subquery

        users = get_user_model().objects.filter(pk=OuterRef("actor_id"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                actor_name=Subquery(users.values("name")[:1]),
                actor_is_staff=Subquery(users.values("is_staff")[:1]),
                actor_username=Subquery(users.values("username")[:1]),
            )
        )

    @admin.display(description="事件", ordering="event_type")
    def event(self, obj):
        label = event_label(obj.event_type)
        return label if label == obj.event_type else f"{label}（{obj.event_type}）"

    @admin.display(description="操作人")
    def actor(self, obj):
        return actor_display(
            actor_id=obj.actor_id,
            label=obj.actor_label,
            name=getattr(obj, "actor_name", None),
            is_staff=getattr(obj, "actor_is_staff", None),
            username=getattr(obj, "actor_username", None),
        )

    @admin.display(description="对象")
    def subject(self, obj):
        return subject_display(obj.subject_type, obj.subject_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def actor_display(*, actor_id, label, name, is_staff, username) -> str:
    """学员 张三 / 工作人员 财务甲（finance） / 系统; the stored label when the account is gone."""
    if actor_id is None and not label:
        return "系统"
    if name is None:
        return f"{label}（账号已不存在）" if label else f"#{actor_id}（账号已不存在）"
    if is_staff:
        return f"工作人员 {name}（{username}）"
    return f"学员 {name}"


def subject_display(subject_type: str, subject_id: str) -> str:
    """退款 #12: the model's Chinese name and the object's id."""
    if not subject_type:
        return "-"
    from django.apps import apps

    try:
        model = apps.get_model(subject_type)
    except (LookupError, ValueError):
        return f"{subject_type} #{subject_id}"
    return f"{model._meta.verbose_name} #{subject_id}"
