from django.contrib import admin

from .models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "event", "to_masked", "status", "attempts"]
    list_filter = ["channel", "status", "event"]
    exclude = ["to", "body"]
    readonly_fields = [f.name for f in OutboundMessage._meta.fields if f.name not in ("to", "body")]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
