"""
Meta's WhatsApp webhook: the subscription handshake, then signed status updates and inbound messages.

GET answers Meta's handshake (hub.mode=subscribe, hub.verify_token, hub.challenge) only with the
configured verify token. Every POST must carry X-Hub-Signature-256, the HMAC-SHA256 of the raw
body with the app secret; without a secret configured, everything is refused (fail closed).
"""

import datetime as dt
import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ...models import Channel, Delivery
from ...services.costs import whatsapp_cost
from ...services.feedback import ProviderEvent, apply_provider_event
from ...services.inbound import receive_whatsapp_message
from .meta import MARKETING_OPT_OUT_CODES, SUPPRESS_CODES

logger = logging.getLogger(__name__)
Status = Delivery.Status
STATUS_FOR = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.OPENED,
    "failed": Status.FAILED,
}


def signature_is_valid(body: bytes, signature: str) -> bool:
    """True when `signature` ("sha256=<hex>") is the app secret's HMAC of `body`."""
    secret = settings.META_WHATSAPP_APP_SECRET
    if not secret or not signature.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return constant_time_compare(signature.removeprefix("sha256="), expected)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_whatsapp_webhook(request):
    """Answer Meta's handshake; apply signed status updates and inbound messages."""
    if request.method == "GET":
        token = settings.META_WHATSAPP_VERIFY_TOKEN
        if (
            token
            and request.GET.get("hub.mode") == "subscribe"
            and constant_time_compare(request.GET.get("hub.verify_token", ""), token)
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("Verification failed.")
    if not signature_is_valid(request.body, request.headers.get("X-Hub-Signature-256", "")):
        return HttpResponseForbidden("Invalid or missing X-Hub-Signature-256.")
    try:
        document = json.loads(request.body)
        values = [change["value"] for entry in document["entry"] for change in entry.get("changes", [])]
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest("Not a WhatsApp Business Account webhook.")
    for value in values:
        for status in value.get("statuses", []):
            _apply_status(status)
        for message in value.get("messages", []):
            _receive(message)
    return HttpResponse(status=200)  # anything else makes Meta deliver it again


def _when(timestamp) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    except (TypeError, ValueError):
        return None


def _apply_status(status: dict) -> None:
    mapped = STATUS_FOR.get(status.get("status", ""))
    if mapped is None:
        return
    callback = str(status.get("biz_opaque_callback_data", ""))
    delivery_id = callback.removeprefix("delivery:")
    errors = status.get("errors") or [{}]
    code = errors[0].get("code")
    detail = f"Meta status {status.get('status')}"
    if code:
        detail += f", error {code}: {errors[0].get('title', '')}"
    delivery = apply_provider_event(
        event=ProviderEvent(
            channel=Channel.WHATSAPP,
            status=mapped,
            delivery_id=int(delivery_id) if callback.startswith("delivery:") and delivery_id.isdigit() else None,
            provider_message_id=status.get("id", ""),
            occurred_at=_when(status.get("timestamp")),
            detail=detail,
            error_code=str(code or ""),
            suppress=code in SUPPRESS_CODES,
            suppress_category="marketing" if code in MARKETING_OPT_OUT_CODES else "",
            address=f"+{status['recipient_id']}" if status.get("recipient_id") else "",
        )
    )
    pricing = status.get("pricing") or {}
    if delivery is not None and pricing.get("category"):
        # What Meta bills it as (a message inside a window the person opened may be free).
        category = str(pricing["category"]).lower()
        billable = pricing.get("billable", True) is not False
        Delivery.objects.filter(pk=delivery.pk).update(
            whatsapp_category=category, cost=whatsapp_cost(category, billable=billable)
        )


def _receive(message: dict) -> None:
    kind = message.get("type")
    if kind == "text":
        text = message.get("text", {}).get("body", "")
    elif kind == "button":  # a quick-reply button on a template ("Stop promotions")
        text = message.get("button", {}).get("text", "")
    elif kind == "interactive":
        reply = message.get("interactive", {})
        text = (reply.get("button_reply") or reply.get("list_reply") or {}).get("title", "")
    else:
        text = f"[{kind}]"  # media, location, contacts: kept, not read
    receive_whatsapp_message(
        provider="meta",
        provider_message_id=message.get("id", ""),
        from_address=f"+{message.get('from', '')}",
        text=text,
        received_at=_when(message.get("timestamp")),
    )
