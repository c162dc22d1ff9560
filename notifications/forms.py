from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from common.phones import normalize_phone
from common.timezones import TimeZoneChoiceField, localized_timezone_choices

from .models import Channel, Topic
from .services.preferences import CHANNELS, OPTIONAL_TOPICS

TIMEZONE_CHOICES = localized_timezone_choices  # India first, then by region, places in the reader's language


# The preferences grid's words, in the reader's language (the models' labels are the admin's).
TOPIC_LABELS = {
    Topic.REMINDERS: _("Class reminders and course updates"),
    Topic.PAYMENTS: _("Payment reminders"),
    Topic.MARKETING: _("Offers and news"),
}
CHANNEL_LABELS = {Channel.EMAIL: _("Email"), Channel.WHATSAPP: _("WhatsApp")}


OFFERS_ON_WHATSAPP = (Topic.MARKETING, Channel.WHATSAPP)


def topic_field_name(topic: str, channel: str) -> str:
    return f"{topic}_{channel}"


class WhatsAppContactMixin:
    """A form with `phone` and `whatsapp_opt_in`: the number read as E.164, and consent only with a number."""

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("whatsapp_opt_in") and "phone" in cleaned and not cleaned["phone"]:
            self.add_error("phone", _("Add your mobile number to get messages on WhatsApp."))
        return cleaned


class PreferencesForm(WhatsAppContactMixin, forms.Form):
    """Which messages a person gets on which channel, WhatsApp consent with a phone, time zone."""

    whatsapp_opt_in = forms.TypedChoiceField(
        label=_("WhatsApp messages"),
        choices=[
            ("yes", _("Yes, send me class and payment reminders on WhatsApp at the number below.")),
            ("no", _("No, do not send me anything on WhatsApp.")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        help_text=_("You can change this here at any time, or reply STOP to any of our WhatsApp messages."),
    )
    whatsapp_marketing_opt_in = forms.BooleanField(
        label=_("Also send me offers and news on WhatsApp."),
        required=False,
        help_text=_("Separate from reminders: you can have reminders on WhatsApp without offers."),
    )
    phone = forms.CharField(
        label=_("Mobile number"),
        required=False,
        max_length=32,
        help_text=_("With the country code for numbers outside India, e.g. +44 7700 900123."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    timezone = TimeZoneChoiceField(
        label=_("Your time zone"),
        choices=TIMEZONE_CHOICES,
        help_text=_("Class times and deadlines are shown, and reminded, in this zone."),
    )

    def __init__(self, *args, receive: dict[tuple[str, str], bool], **kwargs):
        super().__init__(*args, **kwargs)
        self.current = receive
        initial_opt_in = self.initial.get("whatsapp_opt_in")
        if isinstance(initial_opt_in, bool):
            self.initial["whatsapp_opt_in"] = "yes" if initial_opt_in else "no"
        # Offers on WhatsApp have one control, the marketing consent below: ticked only when they
        # would really arrive (consent given and the topic not turned off).
        offers = receive.get(OFFERS_ON_WHATSAPP, True)
        self.initial["whatsapp_marketing_opt_in"] = bool(self.initial.get("whatsapp_marketing_opt_in")) and offers
        for (topic, channel), enabled in receive.items():
            if (topic, channel) == OFFERS_ON_WHATSAPP:
                continue
            name = topic_field_name(topic, channel)
            self.fields[name] = forms.BooleanField(
                label=_("%(topic)s by %(channel)s")
                % {"topic": TOPIC_LABELS[Topic(topic)], "channel": CHANNEL_LABELS[Channel(channel)]},
                required=False,
                initial=enabled,
            )

    def topic_rows(self) -> list[tuple[str, list[forms.BoundField | None]]]:
        """Return the topic checkboxes as rows (one per topic, one column per channel), for the grid;
        None where the choice is made elsewhere (offers on WhatsApp: the consent question)."""
        return [
            (
                TOPIC_LABELS[Topic(topic)],
                [
                    None if (topic, channel) == OFFERS_ON_WHATSAPP else self[topic_field_name(topic, channel)]
                    for channel in CHANNELS
                ],
            )
            for topic in OPTIONAL_TOPICS
        ]

    def receive(self) -> dict[tuple[str, str], bool]:
        """Return the ticked boxes as {(topic, channel): receives}; offers on WhatsApp follow the
        marketing consent when it is given (and stay as they were when it is not: no consent, no offers)."""
        chosen = {
            (topic, channel): self.cleaned_data[topic_field_name(topic, channel)]
            for topic in OPTIONAL_TOPICS
            for channel in CHANNELS
            if (topic, channel) != OFFERS_ON_WHATSAPP
        }
        offers = self.cleaned_data.get("whatsapp_marketing_opt_in") or self.current.get(OFFERS_ON_WHATSAPP, True)
        return chosen | {OFFERS_ON_WHATSAPP: bool(offers)}
