"""Admin for what people send us (WhatsApp replies): read-only, newest first."""

from django.contrib import admin

from .admin import ReadOnlyAdminMixin
from .models import InboundMessage


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "from_address", "user", "keyword", "body_start", "provider")
    list_filter = ("keyword", "provider", "received_at")
    list_select_related = ("user",)
    search_fields = ("from_address", "body", "user__email", "user__name")
    search_help_text = "Number, words of the message, or the student's email or name."
    date_hierarchy = "received_at"
    fields = ("received_at", "from_address", "user", "keyword", "body", "provider", "provider_message_id")

    @admin.display(description="message")
    def body_start(self, obj):
        return obj.body if len(obj.body) <= 80 else f"{obj.body[:79]}…"
