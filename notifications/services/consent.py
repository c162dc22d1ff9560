"""
WhatsApp consent per category, for a number: utility (reminders, payments, account) and marketing
(offers) kept apart, each with when it was given or withdrawn and how.

Accounts keep `whatsapp_opt_in` for utility (lms follows the `whatsapp_consent_changed` signal);
marketing WhatsApp goes only to a number whose marketing consent is given (the dispatcher's gate).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from ..models import WhatsAppConsent
from ..signals import whatsapp_consent_changed

Category = WhatsAppConsent.Category


@transaction.atomic
def record_whatsapp_consent(
    *, address: str, category: str, given: bool, source: str, user=None, at: dt.datetime | None = None
) -> WhatsAppConsent:
    """Record that `address` gave (or withdrew) its WhatsApp consent for `category`, and how; return it.

    An unchanged consent keeps when and how it was first given.
    """
    at = at or timezone.now()
    consent = WhatsAppConsent.objects.select_for_update().filter(address=address, category=category).first()
    if consent is not None and consent.given == given:
        return consent
    consent, _ = WhatsAppConsent.objects.update_or_create(
        address=address,
        category=category,
        defaults={
            "given": given,
            "changed_at": at,
            "source": source[:120],
            "user": user or getattr(consent, "user", None),
        },
    )
    if category == Category.UTILITY:
        whatsapp_consent_changed.send(sender=WhatsAppConsent, address=address, given=given, at=at)
    return consent


def whatsapp_consents(*, address: str) -> dict[str, WhatsAppConsent | None]:
    """Return a number's consent per category (None: never asked)."""
    found = (
        {consent.category: consent for consent in WhatsAppConsent.objects.filter(address=address)} if address else {}
    )
    return {category: found.get(category) for category in Category.values}


def marketing_consent_given(*, addresses: set[str]) -> set[str]:
    """Of `addresses`, those whose marketing consent is given."""
    return set(
        WhatsAppConsent.objects.filter(address__in=addresses, category=Category.MARKETING, given=True).values_list(
            "address", flat=True
        )
    )
