"""
The catalogue in the admin: the landing page of message templates (every kind × channel ×
language with its state), the live text's preview, "back to the shipped text", the publish
confirmation that says who gets the new text, and the live text the add form loads.

A mixin of MessageTemplateAdmin: views parse input, call one function of `catalogue` or
`services`, and show the result.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import pgettext

from ..copy.shipped import is_shipped
from ..kinds import all_kinds, get_kind
from ..languages import DEFAULT_LANGUAGE, available_languages
from ..models import MessageTemplate, TemplateChannel
from . import catalogue, services

EDIT = "notifications.edit_message_copy"
PUBLISH = "notifications.publish_message_copy"
# The version list's own address: the bare changelist URL is the catalogue (its default order).
VERSIONS_QUERY = "?o=1.2.3.-4"


class CatalogueAdminMixin:
    def get_urls(self):
        view = self.admin_site.admin_view
        live = "live/<str:kind>/<str:channel>/<str:language>/"
        return [
            path("catalogue/", view(self.catalogue_view), name="notifications_messagetemplate_catalogue"),
            path(live, view(self.live_preview_view), name="notifications_messagetemplate_live"),
            path(f"{live}parts/", view(self.live_parts_view), name="notifications_messagetemplate_live_parts"),
            path(f"{live}unpublish/", view(self.unpublish_view), name="notifications_messagetemplate_unpublish"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if not request.GET:  # the landing page: the catalogue; the versions are one link away
            return self.catalogue_view(request)
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        # A blank form helps nobody: open on a message's live text, which changing the kind reloads.
        if request.method == "GET" and not request.GET.get("kind"):
            first = all_kinds()[0]
            request.GET = request.GET.copy()
            request.GET.update({"kind": first.name, "channel": first.channels[0], "language": DEFAULT_LANGUAGE})
        return super().add_view(request, form_url, extra_context)

    def _require(self, request, perm: str) -> None:
        if not request.user.has_perm(perm):
            raise PermissionDenied

    def _entry(self, kind: str, channel: str, language: str) -> catalogue.Entry:
        try:
            return catalogue.catalogue_entry(kind=kind, channel=channel, language=language)
        except LookupError as error:
            raise Http404(str(error)) from None

    def _page(self, request, template: str, title: str, **context):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **context}
        return TemplateResponse(request, f"admin/notifications/messagetemplate/{template}", context)

    def catalogue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        filters = {name: request.GET.get(name, "") for name in ("kind", "channel", "language", "state")}
        entries = catalogue.catalogue_entries(**filters)
        counts = {state: sum(entry.state == state for entry in entries) for state in catalogue.STATE_LABELS}
        return self._page(
            request,
            "catalogue.html",
            pgettext("copy catalogue", "Message templates"),
            entries=entries,
            filters=filters,
            counts=counts,
            drafts=sum(entry.draft is not None for entry in entries),
            kinds=all_kinds(),
            channels=TemplateChannel.choices,
            languages=available_languages(),
            states=catalogue.STATE_LABELS.items(),
            can_edit=request.user.has_perm(EDIT),
            can_publish=request.user.has_perm(PUBLISH),
            versions_url=reverse("admin:notifications_messagetemplate_changelist") + VERSIONS_QUERY,
        )

    def live_preview_view(self, request, kind: str, channel: str, language: str):
        self._require(request, EDIT)
        entry = self._entry(kind, channel, language)
        rendered, variables = catalogue.render_live(kind=kind, channel=channel, language=language)
        return self._page(
            request,
            "live_preview.html",
            pgettext("copy catalogue", "%(kind)s · %(channel)s · %(language)s: what readers get now")
            % {"kind": kind, "channel": entry.channel_label, "language": entry.language_name},
            entry=entry,
            rendered=rendered,
            whatsapp_variables=sorted(variables.items(), key=lambda item: int(item[0])),
            can_publish=request.user.has_perm(PUBLISH),
        )

    def live_parts_view(self, request, kind: str, channel: str, language: str):
        self._require(request, EDIT)
        self._entry(kind, channel, language)
        parts = services.starting_parts(kind=get_kind(kind), channel=channel, language=language)
        parts["whatsapp_variables"] = ", ".join(parts.get("whatsapp_variables") or [])
        return JsonResponse({name: value or "" for name, value in parts.items()})

    def unpublish_view(self, request, kind: str, channel: str, language: str):
        self._require(request, PUBLISH)
        entry = self._entry(kind, channel, language)
        if request.method == "POST":
            try:
                version = catalogue.unpublish(kind=kind, channel=channel, language=language, by=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                now = catalogue.catalogue_entry(kind=kind, channel=channel, language=language)
                message = pgettext(
                    "copy catalogue", "%(version)s is no longer published: %(language)s readers get %(text)s."
                )
                self.message_user(
                    request,
                    message % {"version": version, "language": entry.language_name, "text": now.readers_get},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(reverse("admin:notifications_messagetemplate_catalogue"))
        if language == DEFAULT_LANGUAGE or is_shipped(kind=kind, channel=channel, language=language):
            after = pgettext("copy catalogue", "the shipped %(language)s text") % {"language": entry.language_name}
        else:
            after = pgettext("copy catalogue", "the English text (there is no shipped translation)")
        title = pgettext("copy catalogue", "Back to the shipped text?")
        return self._page(request, "unpublish_confirm.html", title, entry=entry, after=after)

    def publish_confirm_view(self, request, version: MessageTemplate):
        """GET on a version's publish address: say who gets the new text, then publish by POST."""
        return self._page(
            request,
            "publish_confirm.html",
            pgettext("copy catalogue", "Publish %(version)s?") % {"version": version},
            version=version,
            audience=catalogue.publish_audience(kind=version.kind, channel=version.channel, language=version.language),
            needs_approval=services.needs_approval(version),
            is_author=request.user.pk in version.authors,
        )
