"""
Bulk actions on the admin's list of leads: start Day 0, add to a campaign, set the language,
mark converted, export. Each needs the lead change permission (export: view), runs the same
service as the single path (the campaign start, the conversion count) and says what it did
and what it skipped, and why.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.api import available_languages

from .campaigns import mark_leads_converted, start_lead_campaign
from .models import Lead, LeadCampaign


class StartForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        required=False,
        label=gettext_lazy("Campaign name"),
        help_text=gettext_lazy("Optional; e.g. Webinar follow-up."),
    )


class AddToCampaignForm(forms.Form):
    campaign = forms.ModelChoiceField(
        queryset=LeadCampaign.objects.filter(status=LeadCampaign.Status.ACTIVE),
        label=gettext_lazy("Active campaign"),
        help_text=gettext_lazy(
            "The new leads among those selected join it and get its Day 0 email; the others stay as they are."
        ),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language of their emails"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = available_languages()


def _form_page(model_admin, request, queryset, *, form, action: str, title: str, intro: str, button: str):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "intro": intro,
        "button": button,
        "form": form,
        "action": action,
        "leads": queryset[:50],
        "count": queryset.count(),
        "ids": list(queryset.values_list("pk", flat=True)),
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/leads/lead_bulk_form.html", context)


def _not_new(queryset) -> str:
    skipped = queryset.exclude(status=Lead.Status.NEW).count()
    if not skipped:
        return ""
    return _("; %(skipped)s skipped (contacted, converted, unsubscribed or bounced already)") % {"skipped": skipped}


def _start(model_admin, request, queryset, **options) -> None:
    """Start Day 0 for the new leads among `queryset` (the campaign service's own checks) and say so."""
    skipped = _not_new(queryset)  # before they are contacted
    result = start_lead_campaign(lead_ids=list(queryset.values_list("pk", flat=True)), **options)
    model_admin.message_user(
        request,
        _("%(campaign)s: %(count)s Day 0 emails planned%(skipped)s.")
        % {"campaign": result.campaign, "count": result.leads_emailed, "skipped": skipped},
        messages.SUCCESS,
    )


@admin.action(description=gettext_lazy("Start Day 0 for the selected leads (a new campaign)"), permissions=["change"])
def start_day0(model_admin, request, queryset):
    form = StartForm(request.POST if "confirm" in request.POST else None)
    if not form.is_valid():
        return _form_page(
            model_admin,
            request,
            queryset,
            form=form,
            action="start_day0",
            title=_("Start Day 0 for the selected leads"),
            intro=_(
                "The selected leads that were never contacted get the Day 0 email in a new campaign; "
                "the others are skipped."
            ),
            button=_("Start the campaign"),
        )
    if not queryset.filter(status=Lead.Status.NEW).exists():
        model_admin.message_user(
            request,
            _("Nothing started: none of the selected leads is new%(skipped)s.") % {"skipped": _not_new(queryset)},
        )
        return None
    _start(model_admin, request, queryset, name=form.cleaned_data["name"])
    return None


@admin.action(
    description=gettext_lazy("Add the selected leads to a campaign (Day 0 for the new ones)"), permissions=["change"]
)
def add_to_campaign(model_admin, request, queryset):
    form = AddToCampaignForm(request.POST if "confirm" in request.POST else None)
    if not form.is_valid():
        return _form_page(
            model_admin,
            request,
            queryset,
            form=form,
            action="add_to_campaign",
            title=_("Add the selected leads to a campaign"),
            intro=_("The selected leads that were never contacted join the campaign and get its Day 0 email."),
            button=_("Add and send Day 0"),
        )
    if not queryset.filter(status=Lead.Status.NEW).exists():
        model_admin.message_user(
            request, _("Nobody added: none of the selected leads is new%(skipped)s.") % {"skipped": _not_new(queryset)}
        )
        return None
    _start(model_admin, request, queryset, campaign=form.cleaned_data["campaign"])
    return None


@admin.action(description=gettext_lazy("Set the language of the selected leads"), permissions=["change"])
def set_language(model_admin, request, queryset):
    form = LanguageForm(request.POST if "confirm" in request.POST else None)
    if not form.is_valid():
        return _form_page(
            model_admin,
            request,
            queryset,
            form=form,
            action="set_language",
            title=_("Set the language of the selected leads"),
            intro=_("Their next campaign emails are written in this language."),
            button=_("Set the language"),
        )
    language = form.cleaned_data["language"]
    count = queryset.update(language=language)
    model_admin.message_user(
        request,
        _("%(count)s leads now get their emails in %(language)s.")
        % {"count": count, "language": dict(available_languages())[language]},
    )
    return None


@admin.action(description=gettext_lazy("Mark the selected leads converted"), permissions=["change"])
def mark_converted(model_admin, request, queryset):
    done, skipped = mark_leads_converted(lead_ids=list(queryset.values_list("pk", flat=True)), by=request.user)
    note = _("; %(skipped)s were converted already (each lead counts once)") % {"skipped": skipped} if skipped else ""
    model_admin.message_user(
        request,
        _("%(done)s leads marked converted, their remaining follow-ups cancelled%(note)s.")
        % {"done": done, "note": note},
        messages.SUCCESS,
    )
