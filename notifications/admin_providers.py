"""Admin for what providers and people tell us: WhatsApp replies, and channels paused by an account error."""

from django.contrib import admin

from .admin import ReadOnlyAdminMixin
from .models import ChannelPause, InboundMessage


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


@admin.register(ChannelPause)
class ChannelPauseAdmin(admin.ModelAdmin):
    """A paused channel: staff see why; deleting the pause tries the channel again with the next batch."""

    list_display = ("channel", "since", "until", "failures", "error_code", "reason")
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False  # only a provider's refusal pauses a channel

    def has_change_permission(self, request, obj=None):
        return False
