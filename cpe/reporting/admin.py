from django.contrib import admin

from .models import AisExchange, AisPerson


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AisExchange)
class AisExchangeAdmin(ReadOnlyAdmin):
    """Every attempt to the AIS (operators: what went wrong; auditors: what was sent)."""

    list_display = ["at", "purpose", "method", "path", "attempt", "status", "duration_ms", "error"]
    list_filter = ["purpose", "status", "method"]
    search_fields = ["idempotency_key", "path"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AisExchange._meta.fields]


@admin.register(AisPerson)
class AisPersonAdmin(ReadOnlyAdmin):
    list_display = ["user", "last_result", "person_id", "region_code", "status", "checked_at"]
    list_filter = ["last_result", "region_code"]
    search_fields = ["person_id"]
    readonly_fields = [f.name for f in AisPerson._meta.fields]
    raw_id_fields = ["user"]
