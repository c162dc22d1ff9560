from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from common.phones import normalize_phone

WHATSAPP_WORDING = gettext_noop(  # a plain string (compared, searched for), marked for translation
    "Yes, send me class reminders and updates on WhatsApp. I can reply STOP at any time to stop them."
)


class CTAForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    phone = forms.CharField(
        label=_("Phone"), max_length=30, required=False, help_text=_("With country code, e.g. +91 98765 43210.")
    )
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=2000, label=_("What do you want to learn?")
    )
    whatsapp_opt_in = forms.BooleanField(required=False, label=_(WHATSAPP_WORDING))
    ref = forms.CharField(required=False, widget=forms.HiddenInput)
    # A honeypot: hidden from people, filled in by bots.
    website = forms.CharField(
        required=False,
        label=_("Leave this empty"),
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("whatsapp_opt_in") and not cleaned.get("phone"):
            self.add_error("phone", _("Add your phone number to get WhatsApp messages."))
        return cleaned

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))
