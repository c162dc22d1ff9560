"""
The copy editor in the admin: message template versions, their preview, test and publishing;
the languages staff add.

Editing needs `notifications.edit_message_copy`; publishing (and approving someone else's
marketing change) `notifications.publish_message_copy`. Views parse input, call one service in
`services`, and show the result.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ..kinds import all_kinds, get_kind
from ..languages import DEFAULT_LANGUAGE, available_languages
from ..models import Delivery, Language, MessageTemplate, TemplateChannel
from . import services
from .catalogue_admin import CatalogueAdminMixin

EDIT = "notifications.edit_message_copy"
PUBLISH = "notifications.publish_message_copy"
VIEW_DELIVERY = "notifications.view_delivery"
SEEN = "copy_seen_versions"  # session: {version pk: hash of the text last shown to this staff member}
Status = MessageTemplate.Status


class MessageTemplateForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=lambda: [(k.name, f"{k.name} — {k.description}") for k in all_kinds()])
    language = forms.ChoiceField(choices=available_languages, initial=DEFAULT_LANGUAGE)
    whatsapp_variables = forms.CharField(
        label="WhatsApp variables",
        required=False,
        help_text="The variables of the approved template's {{1}}, {{2}}..., in order, separated by commas.",
    )

    class Meta:
        model = MessageTemplate
        fields = (
            "kind",
            "channel",
            "language",
            "subject",
            "text",
            "html",
            "whatsapp_content_sid",
            "whatsapp_variables",
            "note",
        )
        widgets = {
            "subject": forms.TextInput(attrs={"size": 80}),
            "text": forms.Textarea(attrs={"rows": 14, "cols": 90, "spellcheck": "true"}),
            "html": forms.Textarea(attrs={"rows": 10, "cols": 90}),
            "note": forms.TextInput(attrs={"size": 80}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.whatsapp_variables, list):
            self.initial["whatsapp_variables"] = ", ".join(self.instance.whatsapp_variables)

    def clean_whatsapp_variables(self):
        value = self.cleaned_data.get("whatsapp_variables")
        if isinstance(value, list):
            return value
        return [name.strip() for name in (value or "").split(",") if name.strip()]

    def clean(self):
        cleaned = super().clean()
        kind_name = cleaned.get("kind") or self.instance.kind
        channel = cleaned.get("channel") or self.instance.channel
        if not kind_name or not channel:
            return cleaned
        kind = get_kind(kind_name)
        parts = {name: cleaned.get(name, getattr(self.instance, name)) for name in ("subject", "text", "html")}
        problems = services.template_problems(
            kind=kind, channel=channel, parts=parts, whatsapp_variables=cleaned.get("whatsapp_variables")
        )
        for field, found in problems.items():
            field = field if field in self.fields else None
            for problem in found:
                self.add_error(field, str(problem))
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(CatalogueAdminMixin, admin.ModelAdmin):
    form = MessageTemplateForm
    change_form_template = "admin/notifications/messagetemplate/change_form.html"
    list_display = (
        "kind",
        "channel",
        "language",
        "version",
        "status",
        "note",
        "edited_by",
        "edited_at",
        "published_at",
    )
    list_filter = ("status", "channel", "language", "kind")
    list_select_related = ("edited_by",)
    search_fields = ("kind", "subject", "text", "note")
    ordering = ("kind", "channel", "language", "-version")
    readonly_fields = (
        "version",
        "status",
        "created_by",
        "created_at",
        "edited_by",
        "edited_at",
        "submitted_by",
        "approved_by",
        "published_by",
        "published_at",
        "sent_with_it",
    )

    def get_fieldsets(self, request, obj=None):
        parts = ["subject", "text", "html"]
        if obj is not None and obj.channel != TemplateChannel.EMAIL:
            parts = ["subject", "text"] if obj.channel == TemplateChannel.INAPP else ["text"]
        whatsapp = ["whatsapp_content_sid", "whatsapp_variables"]
        if obj is not None and obj.channel != TemplateChannel.WHATSAPP:
            whatsapp = []
        fieldsets = [
            (None, {"fields": ["kind", "channel", "language"]}),
            ("Copy", {"fields": parts}),
        ]
        if whatsapp:
            fieldsets.append(("WhatsApp approved template", {"fields": whatsapp}))
        fieldsets.append(("Change", {"fields": ["note"]}))
        if obj is not None:
            fieldsets.append(
                (
                    "History",
                    {
                        "fields": [
                            "version",
                            "status",
                            ("created_by", "created_at"),
                            ("edited_by", "edited_at"),
                            "submitted_by",
                            "approved_by",
                            ("published_by", "published_at"),
                            "sent_with_it",
                        ]
                    },
                )
            )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "kind", "channel", "language")

    # --- permissions: editing copy is its own permission ----------------------------------------

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(EDIT) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return request.user.has_perm(EDIT)

    def has_change_permission(self, request, obj=None):
        # A published (or replaced) version is what was sent: never changed, a new version is.
        editable = obj is None or obj.status in (Status.DRAFT, Status.AWAITING_APPROVAL)
        return request.user.has_perm(EDIT) and editable

    def has_delete_permission(self, request, obj=None):
        # Only a draft nothing was sent with: the history of what went out is kept.
        return (
            request.user.has_perm(EDIT)
            and obj is not None
            and obj.status == Status.DRAFT
            and not obj.deliveries.exists()
        )

    # --- the add form starts from what is live ---------------------------------------------------

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        kind_name, channel = request.GET.get("kind"), request.GET.get("channel") or TemplateChannel.EMAIL
        language = request.GET.get("language") or DEFAULT_LANGUAGE
        try:
            kind = get_kind(kind_name) if kind_name else None
        except LookupError:
            kind = None
        if kind is not None and channel in kind.channels:
            parts = services.starting_parts(kind=kind, channel=channel, language=language)
            if isinstance(parts.get("whatsapp_variables"), list):
                parts["whatsapp_variables"] = ", ".join(parts["whatsapp_variables"])
            initial.update(parts, kind=kind.name, channel=channel, language=language)
        return initial

    def save_model(self, request, obj, form, change):
        services.save_version(version=obj, by=request.user)

    def _after_save(self, request, obj, default):
        if "_preview" in request.POST:
            return HttpResponseRedirect(reverse("admin:notifications_messagetemplate_preview", args=[obj.pk]))
        if "_addanother" in request.POST or ("_save" not in request.POST and "_continue" not in request.POST):
            return default
        # The next steps (preview, test, publish) are on the version's page.
        return HttpResponseRedirect(reverse("admin:notifications_messagetemplate_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request, obj, super().response_add(request, obj, post_url_continue))

    def response_change(self, request, obj):
        return self._after_save(request, obj, super().response_change(request, obj))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        obj = self.get_object(request, object_id) if object_id else None
        kind_name = obj.kind if obj else request.POST.get("kind") or request.GET.get("kind")
        try:
            kinds = [get_kind(kind_name)] if kind_name else all_kinds()
        except LookupError:
            kinds = all_kinds()
        extra_context = {
            **(extra_context or {}),
            "variable_kinds": [(kind, sorted(kind.all_variables.items())) for kind in kinds],
            "can_publish": request.user.has_perm(PUBLISH),
            "needs_approval": obj is not None and services.needs_approval(obj),
            "is_author": obj is not None and request.user.pk in obj.authors,
            "content_hash": _remember_seen(request, obj),
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="sent with it")
    def sent_with_it(self, obj):
        count = obj.deliveries.filter(is_test=False).count()
        tests = obj.deliveries.filter(is_test=True).count()
        url = reverse("admin:notifications_delivery_changelist") + f"?template_version__id__exact={obj.pk}"
        return format_html('<a href="{}">{} message(s)</a> and {} test(s)', url, count, tests)

    # --- preview, test, publish -----------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="notifications_messagetemplate_preview"),
            path("<int:pk>/send-test/", view(self.send_test_view), name="notifications_messagetemplate_send_test"),
            path("<int:pk>/publish/", view(self.publish_view), name="notifications_messagetemplate_publish"),
            *super().get_urls(),
        ]

    def _version(self, request, pk: int, perm: str) -> MessageTemplate:
        if not request.user.has_perm(perm):
            raise PermissionDenied
        return get_object_or_404(MessageTemplate, pk=pk)

    def preview_view(self, request, pk: int):
        version = self._version(request, pk, EDIT)
        kind = get_kind(version.kind)
        # A real recipient's context is theirs: only staff who may see their deliveries may use it.
        may_see_people = request.user.has_perm(VIEW_DELIVERY)
        chosen = None
        if request.GET.get("delivery"):
            if not may_see_people:
                raise PermissionDenied
            if not request.GET["delivery"].isdigit():
                raise Http404
            chosen = get_object_or_404(
                Delivery.objects.select_related("event", "group", "recipient"),
                pk=request.GET["delivery"],
                pk__in=[d.pk for d in services.recent_deliveries(kind=version.kind, channel=version.channel)],
            )
        recent = services.recent_deliveries(kind=version.kind, channel=version.channel) if may_see_people else []
        context = services.preview_context(kind=kind, language=version.language, delivery=chosen)
        error = ""
        try:
            rendered, variables = services.render_version(version=version, context=context)
        except Exception as exc:  # a preview says what is wrong instead of failing
            rendered, variables, error = None, {}, str(exc)
        return TemplateResponse(
            request,
            "admin/notifications/messagetemplate/preview.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Preview: {version}",
                "version": version,
                "kind": kind,
                "rendered": rendered,
                "whatsapp_variables": sorted(variables.items(), key=lambda item: int(item[0])),
                "error": error,
                "recent": [(d.pk, services.recipient_label(d)) for d in recent],
                "chosen": chosen,
                "can_publish": request.user.has_perm(PUBLISH),
                "needs_approval": services.needs_approval(version),
                "is_author": request.user.pk in version.authors,
                "content_hash": _remember_seen(request, version),
            },
        )

    def send_test_view(self, request, pk: int):
        version = self._version(request, pk, EDIT)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:notifications_messagetemplate_preview", args=[pk]))
        try:
            # Sample data, to the staff member's own address or verified number: nobody else's.
            sent = services.send_test(version=version, to=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            where = "your notifications" if not isinstance(sent, Delivery) else sent.to_address
            self.message_user(request, f"A test of {version} is on its way to {where}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:notifications_messagetemplate_preview", args=[pk]))

    def publish_view(self, request, pk: int):
        version = self._version(request, pk, PUBLISH)
        if request.method != "POST":
            return self.publish_confirm_view(request, version)  # who gets the new text, then POST
        try:
            # What the approver saw: the page's form says; else the last page of it they opened.
            seen = request.POST.get("content_hash") or request.session.get(SEEN, {}).get(str(pk))
            outcome = services.publish_version(version=version, by=request.user, seen_hash=seen)
        except ValidationError as error:
            self.message_user(request, f"Not published: {' '.join(error.messages)}", messages.ERROR)
        else:
            self.message_user(request, outcome.message, messages.SUCCESS if outcome.published else messages.WARNING)
        return HttpResponseRedirect(reverse("admin:notifications_messagetemplate_change", args=[pk]))


def _remember_seen(request, version: MessageTemplate | None) -> str:
    """The hash of the version's text as this page shows it, kept in the session too (an approval
    posted later is for this text, not for one saved in between)."""
    if version is None:
        return ""
    shown = services.content_hash(version)
    if request.method == "GET" and request.user.has_perm(PUBLISH):
        request.session[SEEN] = {**request.session.get(SEEN, {}), str(version.pk): shown}
    return shown


@admin.register(Language)
class LanguageAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "locale", "created_at")
    search_fields = ("code", "name")
    readonly_fields = ("created_at",)
