"""
A person's message choices: which topics they get on which channel, WhatsApp consent, time zone.

The dispatcher honours them as data it owns (`NotificationPreference` rows and the user's
`whatsapp_opt_in`), so nothing here needs to know what a reminder is.
"""

import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common.phones import normalize_phone

from ..models import Channel, NotificationPreference, Suppression, Topic, WhatsAppConsent
from .consent import record_whatsapp_consent, whatsapp_consents

# "Account and security" messages (password resets, the welcome) cannot be turned off.
OPTIONAL_TOPICS = (Topic.REMINDERS, Topic.PAYMENTS, Topic.MARKETING)
CHANNELS = (Channel.EMAIL, Channel.WHATSAPP)


@dataclass(frozen=True)
class Preferences:
    receive: dict[tuple[str, str], bool]  # (topic, channel) -> receives it
    whatsapp_opt_in: bool
    phone: str
    timezone: str
    whatsapp_block: str  # why WhatsApp cannot reach them whatever they choose ("" when it can)
    # Consent per category (utility, marketing): when it was given or withdrawn, and how (None: never asked).
    whatsapp_consents: dict = field(default_factory=dict)

    @property
    def whatsapp_marketing_opt_in(self) -> bool:
        consent = self.whatsapp_consents.get(WhatsAppConsent.Category.MARKETING)
        return bool(consent and consent.given)


def get_preferences(*, user) -> Preferences:
    """Return a person's message choices as their preferences page shows them."""
    return Preferences(
        receive=get_topic_choices(user=user),
        whatsapp_opt_in=user.whatsapp_opt_in,
        phone=user.phone,
        timezone=user.timezone,
        whatsapp_block=get_whatsapp_block(phone=user.phone),
        whatsapp_consents=whatsapp_consents(address=user.phone),
    )


def get_topic_choices(*, user) -> dict[tuple[str, str], bool]:
    """Return, for every (topic, channel) a person may turn off, whether they receive it."""
    turned_off = set(NotificationPreference.objects.filter(user=user, enabled=False).values_list("topic", "channel"))
    return {(topic, channel): (topic, channel) not in turned_off for topic in OPTIONAL_TOPICS for channel in CHANNELS}


def get_whatsapp_block(*, phone: str) -> str:
    """Return why WhatsApp messages to `phone` are blocked whatever the preferences ("" if they are not)."""
    if not phone:
        return ""
    suppression = (
        Suppression.objects.filter(channel=Channel.WHATSAPP, address=phone, category=Suppression.ALL_CATEGORIES)
        .only("reason")
        .first()
    )
    return suppression.get_reason_display() if suppression else ""


@transaction.atomic
def update_preferences(
    *,
    user,
    receive: dict[tuple[str, str], bool],
    whatsapp_opt_in: bool,
    phone: str,
    timezone: str,
    whatsapp_marketing_opt_in: bool | None = None,
):
    """Save a person's choices: topics per channel, WhatsApp consent per category (needs a valid phone),
    time zone. Each consent that changes is recorded with when and how (this page)."""
    phone = whatsapp_contact(phone=phone, whatsapp=whatsapp_opt_in or bool(whatsapp_marketing_opt_in))
    if phone and phone != user.phone:
        # A number joins an account only once its owner proves it (the profile page sends it a code):
        # typed here, anyone's number would take their WhatsApp consent and replies.
        raise ValidationError(
            {"phone": _("To add or change your number, use your profile page: we send it a code first.")}
        )
    if timezone not in zoneinfo.available_timezones():
        raise ValidationError({"timezone": f"“{timezone}” is not a time zone name (e.g. Asia/Kolkata)."})
    unknown = set(receive) - {(topic, channel) for topic in OPTIONAL_TOPICS for channel in CHANNELS}
    if unknown:
        raise ValidationError(f"These messages cannot be turned off here: {sorted(unknown)}.")

    user.phone, user.whatsapp_opt_in, user.timezone = phone, whatsapp_opt_in, timezone
    user.save(update_fields=["phone", "whatsapp_opt_in", "timezone"])
    record_page_consent(
        user=user, phone=phone, utility=whatsapp_opt_in, marketing=whatsapp_marketing_opt_in, source="preferences page"
    )

    current = get_topic_choices(user=user)
    for (topic, channel), enabled in receive.items():
        # Only changes are written: someone who never turns anything off keeps no rows at all.
        if current[(topic, channel)] != enabled:
            NotificationPreference.objects.update_or_create(
                user=user, topic=topic, channel=channel, defaults={"enabled": enabled}
            )
    return user


def whatsapp_contact(*, phone: str, whatsapp: bool) -> str:
    """Return `phone` in E.164; refuse a number that is not one, and WhatsApp consent without a number."""
    try:
        phone = normalize_phone(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    if whatsapp and not phone:
        raise ValidationError({"phone": _("Add your mobile number to get messages on WhatsApp.")})
    return phone


def record_page_consent(*, user, phone: str, utility: bool, marketing: bool | None = None, source: str) -> None:
    """Record the WhatsApp consent a person chose on one of their pages, per category, for their number."""
    if not phone:
        return
    chosen = {WhatsAppConsent.Category.UTILITY: utility}
    if marketing is not None:
        chosen[WhatsAppConsent.Category.MARKETING] = marketing
    for category, given in chosen.items():
        record_whatsapp_consent(address=phone, category=category, given=given, source=source, user=user)
