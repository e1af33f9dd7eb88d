from django.contrib import admin

from cpe.core.admin_base import SafeModelAdmin

from .models import Certificate, CreditRecord


class ReadOnly(SafeModelAdmin):
    """The ledger and certificates change only through services (a refund revokes)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CreditRecord)
class CreditRecordAdmin(ReadOnly):
    list_display = [
        "id",
        "uid",
        "user",
        "year",
        "course_code",
        "course_title",
        "category",
        "hours",
        "credits",
        "passed_at",
        "status",
    ]
    list_filter = ["status", "category", "year"]
    search_fields = ["course_code", "course_title", "uid"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnly):
    list_display = ["number", "kind", "user", "year", "hours", "issued_at", "status"]
    list_filter = ["kind", "status", "year"]
    search_fields = ["number"]
