"""
Campaign links: a lead's signed reference in the CTA link (attribution without trusting input),
made when the email is rendered (MessageKind.render_context) so its age counts from sending.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import CTASubmission, Lead

# What the ledger's rows about a lead or a submission name as their subject.
LEAD = Lead._meta.label_lower
SUBMISSION = CTASubmission._meta.label_lower
LEAD_REF_SALT = "leads.cta.ref"


def make_lead_ref(lead_id: int) -> str:
    """Return a signed, expiring reference to a lead for campaign links (attribution without trusting input)."""
    return signing.TimestampSigner(salt=LEAD_REF_SALT).sign(str(lead_id))


def read_lead_ref(ref: str) -> int | None:
    """Return the lead id in a signed reference, or None when it is forged or expired."""
    try:
        value = signing.TimestampSigner(salt=LEAD_REF_SALT).unsign(ref, max_age=settings.LEAD_REF_MAX_AGE_DAYS * 86400)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def cta_url(lead_id: int) -> str:
    return f"{settings.SITE_URL}{reverse('leads:cta')}?ref={make_lead_ref(lead_id)}"


def campaign_links(context: dict) -> dict:
    """The CTA link of a campaign email, signed as it is rendered: its age counts from sending."""
    if "lead_id" not in context:
        return {}  # planned with its link already in the context
    return {"cta_url": cta_url(context["lead_id"])}


def student_page_links(context: dict) -> dict:
    """The new student's own pages the welcome message points to (no credential: staff views run it too)."""
    pages = {"profile_url": "lms:profile", "courses_url": "lms:courses", "dashboard_url": "lms:dashboard"}
    return {name: f"{settings.SITE_URL}{reverse(view)}" for name, view in pages.items()}
