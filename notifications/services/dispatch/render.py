"""
Rendering at send time: the message to send for a claimed row, from the context stored on it.

What the ledger keeps of a message is `Rendered.stored_text`: links minted for this sending
(set-password, unsubscribe, signed campaign links) went out but are not stored. Only here, for a
real message (never a staff test), does rendering call a kind's hook that mints them (`send=`).
"""

import logging
from urllib.parse import urlencode

from django.conf import settings

from ...channels.base import Outcome, SendResult
from ...channels.email import OutgoingEmail
from ...channels.whatsapp import WhatsAppMessage
from ...kinds import get_kind
from ...languages import language_of
from ...models import Delivery
from ...rendering import absolute_url, render_email, render_whatsapp, unsubscribe_url
from ..whatsapp_templates import note_language_fallback, whatsapp_language

logger = logging.getLogger(__name__)


def email_for(delivery: Delivery) -> OutgoingEmail | SendResult:
    """Return the email to send for `delivery`, or the failure when it cannot be rendered."""
    kind = get_kind(delivery.kind)
    stored = delivery.context  # merged from the group, the row and the account: once
    context, headers = stored, {}
    if kind.is_marketing:
        # RFC 8058 one-click unsubscribe; mail clients POST "List-Unsubscribe=One-Click". The same
        # link in the headers and the body (a token signed twice could differ by its time stamp).
        link = unsubscribe_url(delivery_id=delivery.pk)
        context = {**context, "unsubscribe_url": link}
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    try:
        rendered = render_email(
            kind=kind, context=context, delivery_id=delivery.pk, version=_pinned(delivery), send=not delivery.is_test
        )
        attachments = kind.hook("attachments")(stored) if kind.attachments else []
    except Exception as exc:
        logger.exception("Could not render delivery %s", delivery.pk)
        return _render_failure(exc)
    delivery.rendered_subject, delivery.rendered_text = rendered.subject[:255], rendered.stored_text
    delivery.template_version_id = rendered.version_id
    return OutgoingEmail(
        to=delivery.to_address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        delivery_id=delivery.pk,
        kind=delivery.kind,
        headers=headers,
        attachments=attachments,
        marketing=kind.is_marketing,
    )


def whatsapp_for(delivery: Delivery) -> WhatsAppMessage | SendResult:
    """Return the WhatsApp message to send for `delivery`, or the failure when it cannot be rendered."""
    kind = get_kind(delivery.kind)
    try:
        context = delivery.context  # merged from the group, the row and the account: once
        # The recipient's language when its template is approved in it, else the kind's default.
        language = whatsapp_language(kind=kind.name, language=language_of(context)) if not kind.reply else None
        rendered, variables = render_whatsapp(
            kind=kind,
            context=context,
            language=language and language.render,
            version=_pinned(delivery),
            send=not delivery.is_test,
        )
    except Exception as exc:
        logger.exception("Could not render delivery %s", delivery.pk)
        return _render_failure(exc)
    if language and language.fallback_from:
        note_language_fallback(delivery=delivery, language=language)
    delivery.rendered_subject, delivery.rendered_text = "", rendered.stored_text
    delivery.template_version_id = rendered.version_id
    return WhatsAppMessage(
        to=delivery.to_address,
        kind=delivery.kind,
        body=rendered.text,
        content_sid=rendered.content_sid,  # the approved template of the recipient's language
        content_variables=variables,
        delivery_id=delivery.pk,
        status_callback=status_callback_url(delivery_id=delivery.pk),
        free_text=kind.reply,  # a keyword's confirmation, inside the window the person's message opened
        language=language.template if language else "",  # Meta: the approved template's language
    )


def _pinned(delivery: Delivery):
    """A test from the template editor renders with the version being tried (a draft, perhaps);
    every other message with the version published when it is sent."""
    return delivery.template_version if delivery.is_test and delivery.template_version_id else None


def status_callback_url(*, delivery_id: int) -> str:
    """Return the status callback URL for one message: it carries our delivery id, so a callback
    finds its row even before (or without) the provider's message id; Twilio signs the whole URL."""
    base = settings.TWILIO_STATUS_CALLBACK_URL or absolute_url("/webhooks/twilio/status/")
    return f"{base}{'&' if '?' in base else '?'}{urlencode({'delivery_id': delivery_id})}"


def _render_failure(exc: Exception) -> SendResult:
    return SendResult(Outcome.PERMANENT, error=f"Rendering failed: {exc}", error_code="render_error")
