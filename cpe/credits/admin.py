from django.contrib import admin

from cpe.core.admin_base import ReadOnlyAdmin

from .models import Certificate, CreditRecord


@admin.register(CreditRecord)
class CreditRecordAdmin(ReadOnlyAdmin):
    """The ledger and certificates change only through services (a refund revokes)."""

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
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "user", "year", "hours", "issued_at", "status"]
    list_filter = ["kind", "status", "year"]
    search_fields = ["number"]
