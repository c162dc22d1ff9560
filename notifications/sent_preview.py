"""
The HTML part of a sent email, for the admin to show: rendered again from its ledger row.

The row keeps the text as sent but not the HTML (it can be rebuilt, and is large). It is rendered
as the dispatcher renders it, from the stored context with the template version the row used;
every link minted for the rendering (set-password, unsubscribe, signed campaign links) is
replaced by the placeholder the stored text shows, in the raw and the HTML-escaped forms alike,
so a live link never reaches the admin.
"""

from dataclasses import dataclass

from django.utils.html import escape

from .kinds import get_kind
from .models import Channel, Delivery
from .rendering import redact, render_email


@dataclass(frozen=True)
class SentHtml:
    html: str = ""
    # Why there is no preview, or how it may differ from what was sent ("" when it is the same).
    note: str = ""


def render_sent_html(*, delivery: Delivery) -> SentHtml:
    """Return the HTML part of `delivery` as it was sent, with minted links redacted."""
    if delivery.channel != Channel.EMAIL:
        return SentHtml(note="Only emails have an HTML part.")
    if not delivery.rendered_text:
        return SentHtml(note="Not sent yet: the HTML is rendered when the message is sent.")
    try:
        kind = get_kind(delivery.kind)
        rendered = render_email(
            kind=kind, context=delivery.context, delivery_id=delivery.pk, version=delivery.template_version
        )
    except Exception as exc:  # a kind or template removed since, an account deleted...
        return SentHtml(note=f"The HTML part cannot be rendered again: {exc}")
    if not rendered.html:
        return SentHtml(note="This email had no HTML part.")
    secrets = tuple(rendered.secrets) + tuple(escape(secret) for secret in rendered.secrets)
    html = redact(rendered.html, secrets)
    note = ""
    if rendered.version_id != delivery.template_version_id:
        note = "Rendered with the copy published now: the email went out with other copy (see “template version”)."
    return SentHtml(html=html, note=note)
