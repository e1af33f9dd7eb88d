from django.contrib import admin

from cpe.core.admin_base import SafeModelAdmin
from cpe.core.audit import audit_record

from . import policy
from .models import Announcement, OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(SafeModelAdmin):
    list_display = ["created_at", "channel", "event", "to_masked", "status", "attempts"]
    list_filter = ["channel", "status", "event"]
    exclude = ["to", "body", "params"]
    readonly_fields = [f.name for f in OutboundMessage._meta.fields if f.name not in ("to", "body", "params")]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Announcement)
class AnnouncementAdmin(SafeModelAdmin):
    """通知公告 and maintenance notices (rules R2.4), published by the operator. Each save is
    written to the audit log."""

    list_display = ["title", "kind", "audience", "published_at", "maintenance_start", "maintenance_end"]
    list_filter = ["kind", "audience"]
    search_fields = ["title"]
    fieldsets = [
        (None, {"fields": ["kind", "title", "body"]}),
        ("对象", {"fields": ["audience", "region", "year"]}),
        (
            "时间",
            {
                "fields": ["published_at", "effective_at", "maintenance_start", "maintenance_end"],
                "description": "北京时间。"
                f"系统维护通知在开始前 {policy.MAINTENANCE_BANNER_LEAD.days} 天起显示横幅；"
                "维护期间学员看到维护页面，工作人员仍可使用后台。",
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(
            "announcement.saved",
            actor=request.user,
            subject=obj,
            data={
                "kind": obj.kind,
                "audience": obj.audience,
                "title": obj.title[:100],
                "published_at": obj.published_at.isoformat() if obj.published_at else None,
                "maintenance": [obj.maintenance_start.isoformat(), obj.maintenance_end.isoformat()]
                if obj.maintenance_start and obj.maintenance_end
                else None,
            },
        )
