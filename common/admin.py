"""Helpers for the admin modules of every app: read-only admins and inlines, JSON and text fields, links."""

import json

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode


def pretty_json(value) -> str:
    """Return `value` as indented JSON in a <pre>, for a read-only admin field."""
    if value in (None, {}, []):
        return "—"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
    return format_html('<pre style="margin: 0; white-space: pre-wrap">{}</pre>', text)


def preformatted(text: str, *, empty: str = "—") -> str:
    """Return plain text in a <pre> that keeps its line breaks and wraps long lines."""
    if not text:
        return empty
    return format_html('<pre style="margin: 0; white-space: pre-wrap">{}</pre>', text)


def changelist_link(model: str, text: str, **filters) -> str:
    """Return a link to the admin list of `model` ("app_label.modelname") filtered by `filters`."""
    app_label, model_name = model.lower().split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


class ReadOnlyAdminMixin:
    """Staff look, never edit: these rows are written by services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A history shown under its parent: visible to whoever may view the parent, never edited."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        # Part of the parent's page: seeing the parent is enough.
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or request.user.has_perm(
            f"{opts.app_label}.change_{opts.model_name}"
        )
