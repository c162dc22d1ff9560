"""
Admin for the one door: the delivery ledger, its history, in-app notifications and opt-outs.

Ledger rows are written by services only; staff read them and, with the change permission,
run the ledger actions (requeue, settle unknown) that call `notifications.services.ledger`.
"""

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html
from django.utils.translation import gettext_lazy

from common.admin import ReadOnlyAdminMixin, ReadOnlyInline, changelist_link, preformatted, pretty_json  # noqa: F401
from common.export import CsvExportMixin
from common.phones import normalize_phone

from .kinds import all_kinds
from .markers import render_relative_times
from .models import Channel, Delivery, DeliveryEvent, Notification, NotificationPreference, Suppression
from .selectors import delivery_timeline
from .services.ledger import REQUEUEABLE, requeue_deliveries, settle_unknown_deliveries


class KindFilter(admin.SimpleListFilter):
    """Message kinds from the registry: no scan of a big table for its distinct values."""

    title = "kind"
    parameter_name = "kind"
    lookup = "kind"

    def lookups(self, request, model_admin):
        return [(kind.name, kind.name.replace("_", " ")) for kind in all_kinds()]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.lookup: self.value()}) if self.value() else queryset


class DeliveryKindFilter(KindFilter):
    """A delivery's kind is its event's."""

    lookup = "event__kind"


# --- Delivery ledger -------------------------------------------------------------------------


class DeliveryEventInline(ReadOnlyInline):
    model = DeliveryEvent
    fields = ("at", "status", "detail")
    readonly_fields = fields
    verbose_name = "event"
    verbose_name_plural = "History"


@admin.register(Delivery)
class DeliveryAdmin(CsvExportMixin, admin.ModelAdmin):
    export_name = "deliveries"
    export_columns = (
        ("id", "pk"),
        ("kind", "event__kind"),
        ("about", "event__subject_type"),
        ("about id", "event__subject_id"),
        ("channel", "channel"),
        ("to", "to_address"),
        ("status", "status"),
        ("attempts", "attempts"),
        ("test", "is_test"),
        ("cost (INR, estimated)", "cost"),
        ("error", "error_code"),
        ("created (UTC)", "created_at"),
        ("sent (UTC)", "sent_at"),
        ("delivered (UTC)", "delivered_at"),
        ("opened (UTC)", "opened_at"),
        ("clicked (UTC)", "clicked_at"),
    )
    list_display = (
        "id",
        "kind",
        "channel",
        "to_address",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "sent_at",
        "short_error",
    )
    list_display_links = ("id", "kind")
    list_filter = ("status", "channel", DeliveryKindFilter, "is_test", "created_at")
    search_fields = ("to_address", "^event__key", "=provider_message_id")
    search_help_text = "Email address or phone number (or part of it), the start of an event key, or a provider id."
    list_select_related = ("event",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50
    inlines = [DeliveryEventInline]
    actions = ["requeue", "mark_unknown_sent", "mark_unknown_failed"]
    fieldsets = (
        (None, {"fields": ("kind", "channel", "to_address", "recipient", "about", "status")}),
        ("What was sent", {"fields": ("rendered_subject", "sent_text", "sent_html", "copy_used", "is_test")}),
        (
            "Sending",
            {
                "fields": (
                    "attempts",
                    "next_attempt_at",
                    "expiry",
                    "claimed_at",
                    "provider_message_id",
                    "error_code",
                    "last_error",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "sent_at", "delivered_at", "opened_at", "clicked_at", "updated_at")}),
        ("Context the templates are rendered with", {"fields": ("context_json",)}),
        ("Keys", {"classes": ("collapse",), "fields": ("event", "group", "claim_token")}),
    )
    readonly_fields = (
        *(field.name for field in Delivery._meta.fields),
        "kind",
        "expiry",
        "about",
        "sent_text",
        "sent_html",
        "copy_used",
        "context_json",
    )

    # Nobody edits ledger rows by hand. The model-level change permission only opens the
    # actions below; with an object (the change page, a POST to it) it is always refused.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.error_code or obj.last_error)[:60]

    @admin.display(description="about")
    def about(self, obj):
        if not obj.subject_type:
            return "—"
        label = f"{obj.subject_type} #{obj.subject_id}"
        try:
            model = apps.get_model(obj.subject_type)
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.subject_id])
        except (LookupError, ValueError, NoReverseMatch):
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="text")
    def sent_text(self, obj):
        return preformatted(obj.rendered_text, empty="Not sent yet: the text is rendered when the message is sent.")

    @admin.display(description="HTML part")
    def sent_html(self, obj):
        """The email's HTML as sent, in a sandboxed frame (no script, no access to the admin); links
        minted for the sending are redacted, as in the text."""
        from .sent_preview import render_sent_html

        sent = render_sent_html(delivery=obj)
        note = format_html('<p class="help">{}</p>', sent.note) if sent.note else ""
        if not sent.html:
            return note or "—"
        return format_html(
            '{}<iframe title="HTML part as sent" sandbox srcdoc="{}" data-testid="sent-html"'
            ' style="width:100%;max-width:720px;height:520px;border:1px solid #ccc;background:#fff"></iframe>',
            note,
            escape(sent.html),  # always escaped into the attribute, even when the HTML is marked safe
        )

    @admin.display(description="template version")
    def copy_used(self, obj):
        if obj.template_version_id is None:
            if not obj.rendered_text:
                return "Not sent yet: the published version is chosen when the message is sent."
            return f"The shipped default (templates/notifications/{obj.kind}/)"
        url = reverse("admin:notifications_messagetemplate_change", args=[obj.template_version_id])
        return format_html('<a href="{}">{}</a>', url, obj.template_version)

    def lookup_allowed(self, lookup, value, request=None):
        # The deliveries sent with one template version (linked from the version's page).
        return lookup == "template_version__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="context")
    def context_json(self, obj):
        return pretty_json(obj.context)

    @admin.action(
        permissions=["change"],
        description=gettext_lazy("Requeue selected failed, unknown, expired or cancelled deliveries (send again)"),
    )
    def requeue(self, request, queryset):
        count = requeue_deliveries(deliveries=queryset, by=request.user.get_username())
        self._report(request, queryset, count, "requeued", "were not " + _statuses(REQUEUEABLE))

    @admin.action(permissions=["change"], description=gettext_lazy("Mark selected unknown deliveries as sent"))
    def mark_unknown_sent(self, request, queryset):
        count = settle_unknown_deliveries(deliveries=queryset, sent=True, by=request.user.get_username())
        self._report(request, queryset, count, "marked sent", "were not unknown")

    @admin.action(permissions=["change"], description=gettext_lazy("Mark selected unknown deliveries as failed"))
    def mark_unknown_failed(self, request, queryset):
        count = settle_unknown_deliveries(deliveries=queryset, sent=False, by=request.user.get_username())
        self._report(request, queryset, count, "marked failed", "were not unknown")

    def _report(self, request, queryset, count, done, why_not):
        selected = queryset.count()
        noun = "delivery" if count == 1 else "deliveries"
        if count == selected:
            self.message_user(request, f"{count} {noun} {done}.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"{count} {noun} {done}; {selected - count} of the {selected} selected {why_not}, left as they were.",
                messages.WARNING if count else messages.ERROR,
            )


def _statuses(statuses) -> str:
    names = [str(status.label).split(" (")[0].lower() for status in statuses]
    return ", ".join(names[:-1]) + " or " + names[-1]


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "delivery", "status", "detail")
    list_filter = ("status", "at")
    list_select_related = ("delivery__event",)
    search_fields = ("delivery__to_address", "^delivery__event__key")
    search_help_text = "The delivery's address (or part of it) or the start of its event key."
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    show_full_result_count = False
    list_per_page = 50
    fields = ("delivery", "at", "status", "detail")
    readonly_fields = fields


# --- In-app notifications and preferences ----------------------------------------------------


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("unread", "Unread"), ("read", "Read")]

    def queryset(self, request, queryset):
        if self.value() == "unread":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "read":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("shown_title", "user", "kind", "is_read", "created_at", "read_at")
    list_filter = (KindFilter, ReadFilter, "created_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "title")
    search_help_text = "The user's email address, or words from the title."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50
    fields = ("user", "kind", "title", "message", "link", "created_at", "read_at", "event")
    readonly_fields = fields

    # Notifications are made by the message planner (the one door); staff may only remove one.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="read", ordering="read_at")
    def is_read(self, obj):
        return obj.read_at is not None

    @admin.display(description="title", ordering="title")
    def shown_title(self, obj):
        """The title as its reader sees it now: its stored day ("[[day_label:…]]") in words."""
        return render_relative_times(obj.title)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "topic", "channel", "enabled", "updated_at")
    list_filter = ("topic", "channel", "enabled")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__name")
    autocomplete_fields = ("user",)
    ordering = ("user__email", "topic", "channel")
    readonly_fields = ("updated_at",)


# --- Suppression list ------------------------------------------------------------------------


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ("channel", "address", "category", "reason", "detail")

    def clean(self):
        cleaned = super().clean()
        channel, address = cleaned.get("channel"), (cleaned.get("address") or "").strip()
        if not address:
            return cleaned
        # Stored as the dispatcher compares it: emails in lower case, numbers in E.164.
        try:
            if channel == Channel.EMAIL:
                validate_email(address)
                cleaned["address"] = address.lower()
            elif channel == Channel.WHATSAPP:
                cleaned["address"] = normalize_phone(address)
        except ValidationError as error:
            self.add_error("address", error)
        return cleaned


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    list_display = ("address", "channel", "scope", "reason", "created_at", "detail")
    list_filter = ("channel", "category", "reason", "created_at")
    search_fields = ("address",)
    search_help_text = "Email address or phone number, or part of it."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("created_at",)

    def get_changeform_initial_data(self, request):
        return {"reason": Suppression.Reason.MANUAL, **super().get_changeform_initial_data(request)}

    @admin.display(description="messages", ordering="category")
    def scope(self, obj):
        return obj.get_category_display() if obj.category else "All messages"


def render_delivery_timeline(*, recipient_id=None, addresses=()) -> str:
    """Return the HTML of a person's recent messages and suppressions, for a read-only admin field."""
    return render_to_string(
        "admin/notifications/delivery_timeline.html",
        delivery_timeline(recipient_id=recipient_id, addresses=list(addresses)),
    )


# The copy editor (message template versions, languages) lives with its services.
from . import admin_providers  # noqa: E402, F401 - replies, paused channels, WhatsApp templates and consent
from .editor import admin as editor_admin  # noqa: E402, F401
