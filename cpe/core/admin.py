from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group

from .admin_base import SafeModelAdmin
from .models import AuditEvent

# Django registers Group with its own ModelAdmin (any local field filterable): replace it.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SafeModelAdmin, DjangoGroupAdmin):
    pass


@admin.register(AuditEvent)
class AuditEventAdmin(SafeModelAdmin):
    list_display = ["seq", "at", "event_type", "actor_label", "subject_type", "subject_id", "ip"]
    list_filter = ["event_type"]
    search_fields = ["event_type", "subject_id", "actor_label"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
