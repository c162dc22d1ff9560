"""Admin for what providers and people tell us: replies, paused channels, WhatsApp templates and consent."""

from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from .channels.whatsapp.meta import component_slots
from .models import (
    AttentionPreference,
    ChannelPause,
    DeliveryDailyCount,
    InboundMessage,
    MessageEvent,
    MessageGroup,
    SubjectHold,
    WhatsAppConsent,
    WhatsAppTemplate,
)
from .services.consent import record_whatsapp_consent


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "from_address", "user", "keyword", "body_start", "provider", "staff_note")
    list_filter = ("keyword", "provider", "received_at")
    list_select_related = ("user",)
    search_fields = ("from_address", "body", "user__email", "user__name")
    search_help_text = "Number, words of the message, or the student's email or name."
    date_hierarchy = "received_at"
    fields = (
        "received_at",
        "from_address",
        "user",
        "staff_note",
        "keyword",
        "body",
        "provider",
        "provider_message_id",
    )

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


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The provider's templates and their approval: synced, never edited here (`whatsapp_templates sync`)."""

    list_display = ("friendly_or_name", "language", "category", "status", "provider", "synced_at")
    list_filter = ("status", "category", "provider", "language")
    search_fields = ("name", "friendly_name", "body")
    fields = (
        "provider",
        "name",
        "friendly_name",
        "language",
        "category",
        "status",
        "body",
        "parameters",
        "synced_at",
    )
    readonly_fields = ("parameters",)

    @admin.display(description="template", ordering="name")
    def friendly_or_name(self, obj):
        return obj.friendly_name or obj.name

    @admin.display(description="parameters a message fills, in order")
    def parameters(self, obj):
        slots = component_slots(obj.components)
        return ", ".join(slot.describe() for slot in slots) if slots else "none (or not listed by the provider)"


@admin.register(WhatsAppConsent)
class WhatsAppConsentAdmin(admin.ModelAdmin):
    """Who may get WhatsApp, per category, since when and how. Staff record consent given elsewhere."""

    list_display = ("address", "category", "given", "changed_at", "source", "user")
    list_filter = ("category", "given", "changed_at")
    list_select_related = ("user",)
    search_fields = ("address", "source", "user__email")
    fields = ("address", "category", "given", "source", "user", "changed_at")
    readonly_fields = ("changed_at",)
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change):
        record_whatsapp_consent(
            address=obj.address,
            category=obj.category,
            given=obj.given,
            source=obj.source or f"staff ({request.user.email})",
            user=obj.user,
        )


@admin.register(DeliveryDailyCount)
class DeliveryDailyCountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the retention job kept of the deliveries it removed: counts per day, kind and channel."""

    list_display = ("day", "kind", "channel", "rows", "sent", "delivered", "opened", "bounced", "failed", "cost")
    list_filter = ("channel", "kind", "day")
    date_hierarchy = "day"
    search_fields = ("kind", "subject_type")


@admin.register(SubjectHold)
class SubjectHoldAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What staff hold from the outbox (every message about a session...): released there."""

    list_display = ("subject_type", "subject_id", "reason", "held_by", "created_at")
    search_fields = ("subject_type", "reason", "held_by")


class MessageGroupInline(admin.TabularInline):
    model = MessageGroup
    fields = ("context", "expires_at", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Shared contexts (one per zone and locale group)"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MessageEvent)
class MessageEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What a message is about, once for all its deliveries: the ledger's rows name it by id."""

    list_display = ("key", "kind", "subject_type", "subject_id", "created_at")
    list_filter = ("kind", "created_at")
    search_fields = ("^key", "=subject_id")
    search_help_text = "The start of an event key (e.g. session_24h:42) or a subject's id."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    inlines = [MessageGroupInline]


@admin.register(MessageGroup)
class MessageGroupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "event", "expires_at", "created_at")
    list_select_related = ("event",)
    search_fields = ("^event__key",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False


@admin.register(AttentionPreference)
class AttentionPreferenceAdmin(admin.ModelAdmin):
    """A student's own quiet hours and digest hour (the defaults are NOTIFICATIONS_QUIET_HOURS and
    NOTIFICATIONS_DIGEST_HOUR); they set them on their preferences page."""

    list_display = ("user", "quiet_start", "quiet_end", "digest_hour", "updated_at")
    search_fields = ("user__email", "user__name")
    raw_id_fields = ("user",)
