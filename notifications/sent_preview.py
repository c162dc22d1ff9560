"""
The HTML part of a sent email, for the admin to show: rendered again from its ledger row.

The row keeps the text as sent but not the HTML (it can be rebuilt, and is large). It is rendered
from the stored context with the copy the row was sent with (its template version, or the shipped
files when it had none; never the version published since), and like every view for staff it
never calls the kind's hook that mints links: each access link shows as an inert placeholder.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from .kinds import get_kind
from .models import Channel, Delivery
from .rendering import SHIPPED, render_email


@dataclass(frozen=True)
class SentHtml:
    html: str = ""
    # Why there is no preview, or how it may differ from what was sent ("" when it is the same).
    note: str = ""


def render_sent_html(*, delivery: Delivery) -> SentHtml:
    """Return the HTML part of `delivery` as it was sent, with its access links as placeholders."""
    if delivery.channel != Channel.EMAIL:
        return SentHtml(note="Only emails have an HTML part.")
    if not delivery.rendered_text:
        return SentHtml(note="Not sent yet: the HTML is rendered when the message is sent.")
    version = delivery.template_version if delivery.template_version_id else SHIPPED
    try:
        kind = get_kind(delivery.kind)
        rendered = render_email(kind=kind, context=delivery.context, delivery_id=delivery.pk, version=version)
    except Exception as exc:  # a kind removed since, an account deleted, a template over its limits...
        return SentHtml(note=f"The HTML part cannot be rendered again: {exc}")
    if not rendered.html:
        return SentHtml(note="This email had no HTML part.")
    note = ""
    edited_at = getattr(version, "edited_at", None)
    if edited_at and delivery.sent_at and edited_at > delivery.sent_at:
        note = _("This draft was edited after the test was sent: the HTML shows the draft as it is now.")
    return SentHtml(html=rendered.html, note=note)
