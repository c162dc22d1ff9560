from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, pgettext_lazy

from common.timezones import TimeZoneChoiceField, localized_timezone_choices
from notifications.api import WhatsAppContactMixin, available_languages

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


class SubmissionForm(forms.Form):
    text = forms.CharField(
        label=_("Your answer"),
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": _("Write your answer, or paste a link to your work.")}),
        required=False,
    )
    file = forms.FileField(label=_("And/or attach a file (10 MB at most)"), required=False)

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if file and file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return file

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not (cleaned.get("text") or "").strip() and not cleaned.get("file"):
            raise forms.ValidationError(_("Write an answer or attach a file."))
        return cleaned


# What a student agrees to when they tick the box: shown word for word next to it, the same words
# as the form they signed up with (leads.forms.WHATSAPP_WORDING).
WHATSAPP_CONSENT_WORDING = gettext_noop(  # a plain string (compared, searched for), marked for translation
    "Yes, send me class reminders and updates on WhatsApp. I can reply STOP at any time to stop them."
)


class ProfileForm(WhatsAppContactMixin, forms.Form):
    """What a student tells us about themselves: name, phone, time zone, language, WhatsApp consent."""

    name = forms.CharField(label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    phone = forms.CharField(
        label=_("Mobile number"),
        required=False,
        max_length=32,
        help_text=_("With the country code for numbers outside India, e.g. +44 7700 900123."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    whatsapp_opt_in = forms.BooleanField(label=_(WHATSAPP_CONSENT_WORDING), required=False)
    timezone = TimeZoneChoiceField(
        label=_("Your time zone"),
        choices=localized_timezone_choices,
        help_text=_("Class times and deadlines are shown, and reminded, in this zone."),
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=available_languages, help_text=_("For these pages and the messages we send you.")
    )


class PhoneCodeForm(forms.Form):
    """The one-time code sent to a new number by WhatsApp."""

    code = forms.CharField(
        label=pgettext_lazy("one-time code", "Code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*", "size": 8}
        ),
    )
