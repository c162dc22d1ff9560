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
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..channels.whatsapp.meta import ACCOUNT_CODES, MARKETING_OPT_OUT_CODES, SUPPRESS_CODES, TRANSIENT_CODES
from ..models import Channel, Delivery
from ..services.costs import whatsapp_cost
from ..services.feedback import ProviderEvent, apply_provider_event
from ..services.inbound import change_marketing_preference, receive_whatsapp_message
from ..services.whatsapp_templates import record_template_status

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
    """Answer Meta's handshake; apply signed status updates, inbound messages and marketing preferences."""
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
    except ValueError:
        return HttpResponseBadRequest("Not a WhatsApp Business Account webhook.")
    for value in _values(document):
        if "message_template_name" in value:  # field message_template_status_update: approved, rejected...
            _apply_each(_apply_template_status, value, what="template status")
            continue
        for status in _items(value, "statuses"):
            _apply_each(_apply_status, status, what="status")
        for message in _items(value, "messages"):
            _apply_each(_receive, message, what="message")
        for preference in _items(value, "user_preferences"):
            _apply_each(_apply_preference, preference, what="user preference")
    # Anything but 200 makes Meta deliver the whole payload again (and again): what could not be
    # applied is logged, and what could is kept.
    return HttpResponse(status=200)


def _values(document) -> list[dict]:
    """Each change's `value`; a shape this code does not know is logged and skipped."""
    entries = document.get("entry") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        logger.warning("Meta webhook of an unknown shape, ignored: %.500s", document)
        return []
    values = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                values.append(value)
            else:
                logger.warning("Meta webhook change of an unknown shape, ignored: %.500s", change)
    return values


def _items(value: dict, key: str) -> list[dict]:
    items = value.get(key) or []
    if not isinstance(items, list):
        logger.warning("Meta webhook %s of an unknown shape, ignored: %.500s", key, items)
        return []
    return items


def _apply_each(apply, item, *, what: str) -> None:
    """Apply one status, message or preference on its own: in a savepoint, so a bad one (a value
    the database refuses, a shape never seen) loses nothing else in the payload."""
    try:
        if not isinstance(item, dict):
            raise TypeError(f"not an object: {type(item).__name__}")
        with transaction.atomic():
            apply(item)
    except Exception:  # logged with its traceback: Meta must get its 200
        logger.exception("Meta webhook: could not apply a %s, skipped: %.500s", what, item)


def _when(timestamp) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _delivery_id(callback: str) -> int | None:
    """Our delivery id from `biz_opaque_callback_data` ("delivery:<id>"), if it is one a row can have."""
    digits = callback.removeprefix("delivery:")
    return int(digits) if callback.startswith("delivery:") and digits.isdigit() and len(digits) < 19 else None


def _error(status: dict) -> tuple[int | None, str]:
    """The first error's code (an int, whatever type Meta sent) and title."""
    errors = status.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    try:
        code = int(first.get("code"))
    except (TypeError, ValueError):
        code = None
    return code, str(first.get("title") or first.get("message") or "")


def _apply_status(status: dict) -> None:
    mapped = STATUS_FOR.get(str(status.get("status", "")))
    if mapped is None:
        return
    callback = str(status.get("biz_opaque_callback_data", ""))
    code, title = _error(status)
    detail = f"Meta status {status.get('status')}"
    if code is not None:
        detail += f", error {code}: {title}"
    recipient = str(status.get("recipient_id") or "").removeprefix("+")
    delivery = apply_provider_event(
        event=ProviderEvent(
            channel=Channel.WHATSAPP,
            status=mapped,
            delivery_id=_delivery_id(callback),
            provider_message_id=str(status.get("id", "")),
            occurred_at=_when(status.get("timestamp")),
            detail=detail,
            error_code=str(code if code is not None else ""),
            # 131026 has temporary causes too (an old app, a phone offline for long): counted.
            suppress_at_limit=code in SUPPRESS_CODES,
            suppress_category="marketing" if code in MARKETING_OPT_OUT_CODES else "",
            account=mapped == Status.FAILED and code in ACCOUNT_CODES,
            transient=mapped == Status.FAILED and code in TRANSIENT_CODES,
            address=f"+{recipient}" if recipient else "",
        )
    )
    pricing = status.get("pricing")
    if delivery is not None and isinstance(pricing, dict) and pricing.get("category"):
        # What Meta bills it as: its category, and whether this one is free (a reply in the
        # customer-service window, a conversation opened from an ad).
        category = str(pricing["category"]).lower()[:32]
        cost = whatsapp_cost(
            category, billable=pricing.get("billable", True) is not False, pricing_type=str(pricing.get("type", ""))
        )
        Delivery.objects.filter(pk=delivery.pk).update(whatsapp_category=category, cost=cost)


def _receive(message: dict) -> None:
    kind = message.get("type")
    payload = ""
    if kind == "text":
        text = (message.get("text") or {}).get("body", "")
    elif kind == "button":  # a quick-reply button on a template ("Stop promotions")
        button = message.get("button") or {}
        text, payload = button.get("text", ""), button.get("payload", "")
    elif kind == "interactive":
        reply = message.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        text, payload = chosen.get("title", ""), chosen.get("id", "")
    else:
        text = f"[{kind}]"  # media, location, contacts: kept, not read
    receive_whatsapp_message(
        provider="meta",
        provider_message_id=str(message.get("id", "")),
        from_address=f"+{str(message.get('from', '')).removeprefix('+')}",
        text=str(text),
        button_payload=str(payload or ""),
        received_at=_when(message.get("timestamp")),
    )


def _apply_preference(preference: dict) -> None:
    """WhatsApp's own setting: the person stopped (or resumed) this business's marketing messages."""
    if preference.get("category") != "marketing_messages" or preference.get("value") not in ("stop", "resume"):
        logger.warning("Meta user preference not understood, ignored: %.500s", preference)
        return
    change_marketing_preference(
        address=f"+{str(preference.get('wa_id', '')).removeprefix('+')}",
        stop=preference["value"] == "stop",
        source="WhatsApp setting (Meta user_preferences)",
        detail=str(preference.get("detail", ""))[:200],
        at=_when(preference.get("timestamp")),
    )


def _apply_template_status(value: dict) -> None:
    """Meta reviewed a template (APPROVED, REJECTED, PAUSED, DISABLED...): its synced row follows at once."""
    record_template_status(
        provider="meta",
        name=str(value.get("message_template_name", "")),
        language=str(value.get("message_template_language", "")),
        status=str(value.get("event", "")).lower(),
    )
