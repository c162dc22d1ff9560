"""Writes of leads that are not the campaign itself: the public CTA form."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from notifications.api import DEFAULT_LANGUAGE

from .campaigns import track_lead_conversion
from .models import CrmActivity, CTASubmission


@transaction.atomic
def submit_cta(
    *,
    name: str,
    email: str,
    phone: str = "",
    message: str = "",
    whatsapp_opt_in: bool = False,
    lead_ref: str = "",
    language: str = DEFAULT_LANGUAGE,
    now: dt.datetime | None = None,
) -> CTASubmission:
    """Record a CTA submission from the public form; its lead converts only by its signed campaign link."""
    now = now or timezone.now()
    submission = CTASubmission.objects.create(
        name=name.strip(),
        email=email.strip().lower(),
        phone=phone,
        message=message.strip(),
        whatsapp_opt_in=whatsapp_opt_in and bool(phone),
        language=language,
        created_at=now,
    )
    CrmActivity.objects.create(
        kind=CrmActivity.Kind.CTA_SUBMITTED,
        submission=submission,
        description=f"{submission.name} asked to join.",
        created_at=now,
    )
    track_lead_conversion(submission=submission, lead_ref=lead_ref, now=now)
    return submission
