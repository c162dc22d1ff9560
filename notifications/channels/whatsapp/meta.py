"""
WhatsApp through Meta's Cloud API (the Graph API), with approved templates: no Twilio in between.

A message is a template (its name and language) with its body variables in order; our delivery
id rides along as `biz_opaque_callback_data`, which Meta echoes in every status webhook, so a
status finds its row even when the answer to the send was lost. Errors are classified by Meta's
error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
"""

import logging
import re
from dataclasses import dataclass

import requests
from django.conf import settings

from ...conf import conf
from ..base import Outcome, SendResult, classify_http_status, classify_requests_error, retry_after_seconds
from . import BaseWhatsAppBackend, TemplateInfo, WhatsAppMessage

logger = logging.getLogger(__name__)

# Try again later: throttled, or Meta is having a bad moment.
TRANSIENT_CODES = {
    1,  # API unknown
    2,  # API service temporarily unavailable
    4,  # API too many calls
    80007,  # rate limit issues (the business account's)
    130429,  # rate limit hit (throughput)
    131000,  # something went wrong
    131016,  # service unavailable
    131048,  # spam rate limit hit
    131056,  # pair rate limit: too many messages to this number
    133004,  # server temporarily unavailable
}
# Nothing is wrong with the message: the account or the app cannot send (an expired token, a
# locked account, an unpaid bill). Every message would fail alike until someone fixes it.
ACCOUNT_CODES = {
    0,  # AuthException
    3,  # API method: the app lacks the capability
    10,  # permission denied
    190,  # access token expired or invalid
    200,  # permission error
    368,  # temporarily blocked for policy violations
    131031,  # business account locked
    131042,  # business eligibility: payment issue
    131045,  # incorrect certificate (phone number not registered properly)
    131057,  # business account in maintenance mode: temporary, for every message alike
    133010,  # phone number not registered on the Cloud API
}
# Message undeliverable: the number is not on WhatsApp, or cannot take this message now (an old
# app version, a phone offline for long, terms not accepted). Meta lists temporary causes, so the
# number is suppressed only after it happened SOFT_BOUNCE_LIMIT times (in a send's answer or a status
# webhook alike).
SUPPRESS_CODES = {131026}
# The person stopped this business's marketing messages in WhatsApp itself.
MARKETING_OPT_OUT_CODES = {131050}
# Everything else in 100, 131xxx and 132xxx is about this message (a template that does not exist
# or is paused, a missing parameter, outside the 24-hour window): permanent.


PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# Buttons whose parameter the send supplies (a quick reply's payload is optional: left to Meta).
BUTTON_PARAMETERS = {"URL": "url", "COPY_CODE": "copy_code"}


@dataclass(frozen=True)
class Slot:
    """One component of an approved template that takes parameters, and how many."""

    component: str  # header, body, button
    count: int
    index: int = 0  # a button's position among the template's buttons
    sub_type: str = ""  # a button's: url, copy_code
    media: str = ""  # a header's format when it is not text (IMAGE, VIDEO, DOCUMENT, LOCATION)

    def describe(self) -> str:
        if self.media:
            return f"a {self.media.lower()} header"
        where = f"button {self.index + 1} ({self.sub_type})" if self.component == "button" else self.component
        return f"{where} {self.count}"


def _count(text: str) -> int:
    """How many positional parameters ({{1}}, {{2}}...) a component's text takes."""
    return max((int(number) for number in PLACEHOLDER.findall(text or "")), default=0)


def component_slots(components: list) -> list[Slot]:
    """The components of a template (as Meta lists them) that take parameters, in the order a
    message fills them: the header, the body, then each button that has a variable."""
    slots = []
    for component in components or []:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            fmt = str(component.get("format", "TEXT")).upper()
            if fmt != "TEXT":
                slots.append(Slot("header", 1, media=fmt))
            elif _count(component.get("text", "")):
                slots.append(Slot("header", _count(component.get("text", ""))))
        elif kind == "BODY" and _count(component.get("text", "")):
            slots.append(Slot("body", _count(component.get("text", ""))))
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                sub_type = BUTTON_PARAMETERS.get(str(button.get("type", "")).upper())
                if sub_type == "url" and _count(button.get("url", "")):
                    slots.append(Slot("button", _count(button.get("url", "")), index=index, sub_type=sub_type))
                elif sub_type == "copy_code":
                    slots.append(Slot("button", 1, index=index, sub_type=sub_type))
    return slots


def slots_mismatch(slots: list[Slot], *, mapped: int) -> str:
    """Why `mapped` variables cannot fill these components ("" when they can)."""
    media = [slot for slot in slots if slot.media]
    if media:
        return f"it has {media[0].describe()}, which needs a media parameter no message kind supplies"
    wanted = sum(slot.count for slot in slots)
    if wanted != mapped:
        parts = ", ".join(slot.describe() for slot in slots) or "none"
        return f"it takes {wanted} variable(s) ({parts}) and the kind maps {mapped}"
    return ""


def fill_components(slots: list[Slot], values: list[str]) -> list[dict]:
    """The `components` of a template message: each component's parameters, taken in order."""
    filled, rest = [], list(values)
    for slot in slots:
        taken, rest = rest[: slot.count], rest[slot.count :]
        if slot.component == "button":
            kind = "coupon_code" if slot.sub_type == "copy_code" else "text"
            parameters = [{"type": kind, kind: value} for value in taken]
            filled.append(
                {"type": "button", "sub_type": slot.sub_type, "index": str(slot.index), "parameters": parameters}
            )
        else:
            filled.append({"type": slot.component, "parameters": [{"type": "text", "text": value} for value in taken]})
    return filled


class WhatsAppBackend(BaseWhatsAppBackend):
    """Send approved templates through the Cloud API (`META_WHATSAPP_*` settings)."""

    provider = "meta"

    def __init__(self, *, access_token=None, phone_number_id=None, api_url=None, session=None, **kwargs):
        self.access_token = access_token or settings.META_WHATSAPP_ACCESS_TOKEN
        self.phone_number_id = phone_number_id or settings.META_WHATSAPP_PHONE_NUMBER_ID
        self.api_url = (api_url or settings.META_GRAPH_API_URL).rstrip("/")
        self.session = session

    def open(self):
        if self.session is None:
            self.session = requests.Session()
            self.session.headers["Authorization"] = f"Bearer {self.access_token}"

    def close(self):
        if self.session is not None:
            self.session.close()
            self.session = None

    def template_for(self, message: WhatsAppMessage) -> str:
        return message.template_name or conf.meta_whatsapp_templates.get(message.kind, "")

    def payload(self, message: WhatsAppMessage) -> dict:
        """The Graph API's template message for `message` (variables {"1": ..., "2": ...} in order),
        or its text message for a reply inside the 24-hour window."""
        if message.free_text:
            payload = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": message.to.removeprefix("+"),
                "type": "text",
                "text": {"body": message.body, "preview_url": False},
            }
            if message.delivery_id is not None:
                payload["biz_opaque_callback_data"] = f"delivery:{message.delivery_id}"
            return payload
        values = [str(value) for _, value in sorted(message.content_variables.items(), key=lambda item: int(item[0]))]
        language = message.language or settings.META_WHATSAPP_DEFAULT_LANGUAGE
        template = {"name": self.template_for(message), "language": {"code": language}}
        slots = self.slots_for(name=template["name"], language=language)
        if slots is not None:  # the approved template's components, as synced: header, body, buttons
            if slots:
                template["components"] = fill_components(slots, values)
        elif values:  # never synced: the variables are the body's
            template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}]
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to.removeprefix("+"),
            "type": "template",
            "template": template,
        }
        if message.delivery_id is not None:
            payload["biz_opaque_callback_data"] = f"delivery:{message.delivery_id}"
        return payload

    def slots_for(self, *, name: str, language: str) -> list[Slot] | None:
        """The synced template's components that take parameters, or None when it was never synced."""
        synced = self.synced_templates().get((name, language))
        return component_slots(synced[1]) if synced and synced[1] else None

    def refusal(self, message: WhatsAppMessage) -> SendResult | None:
        """Why a template message cannot go now, without asking Meta (None when it can)."""
        name = self.template_for(message)
        if not name:
            return SendResult(
                Outcome.PERMANENT,
                error=f"No approved WhatsApp template is configured for {message.kind!r} (META_WHATSAPP_TEMPLATES).",
                error_code="no_template",
            )
        language = message.language or settings.META_WHATSAPP_DEFAULT_LANGUAGE
        refusal = self.template_refusal(name=name, language=language)
        if refusal:  # it may be approved soon: retry with back-off, never send it unapproved
            return SendResult(Outcome.TRANSIENT, error=refusal, error_code="template_not_approved")
        slots = self.slots_for(name=name, language=language)
        mismatch = slots_mismatch(slots, mapped=len(message.content_variables)) if slots is not None else ""
        if mismatch:  # Meta would refuse it (132000): held until the mapping or the template is fixed
            error = f"WhatsApp template {name!r} ({language}) does not fit {message.kind}: {mismatch}."
            return SendResult(Outcome.TRANSIENT, error=error, error_code="template_mismatch")
        return None

    def send(self, message: WhatsAppMessage) -> SendResult:
        refusal = None if message.free_text else self.refusal(message)
        if refusal is not None:
            return refusal
        self.open()
        url = f"{self.api_url}/{self.phone_number_id}/messages"
        try:
            response = self.session.post(url, json=self.payload(message), timeout=settings.META_TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            return classify_requests_error(exc, provider="Meta")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.ok:
            messages = body.get("messages") if isinstance(body, dict) else None
            if messages and messages[0].get("id"):
                return SendResult.sent(messages[0]["id"])
            # Accepted, but we cannot tell which message it is: the status webhook will say.
            return SendResult(Outcome.UNKNOWN, error=f"Meta answered {response.status_code} without a message id.")
        return classify_graph_error(response.status_code, body, headers=response.headers)

    def list_templates(self) -> list[TemplateInfo]:
        """The business account's message templates, every page (GET /<waba-id>/message_templates)."""
        self.open()
        url = f"{self.api_url}/{settings.META_WHATSAPP_BUSINESS_ACCOUNT_ID}/message_templates"
        params = {"fields": "name,language,status,category,components", "limit": 100}
        found = []
        while url:
            response = self.session.get(url, params=params, timeout=settings.META_TIMEOUT)
            body = response.json() if response.content else {}
            if not response.ok:
                error = body.get("error", {}) if isinstance(body, dict) else {}
                raise RuntimeError(
                    f"Meta answered {response.status_code} listing templates: {error.get('message', '')}"
                )
            for entry in body.get("data", []):
                text = next((c.get("text", "") for c in entry.get("components", []) if c.get("type") == "BODY"), "")
                found.append(
                    TemplateInfo(
                        name=entry["name"],
                        language=entry.get("language", ""),
                        status=str(entry.get("status", "")).lower() or "unknown",
                        category=str(entry.get("category", "")).lower(),
                        body=text,
                        components=tuple(entry.get("components") or ()),
                    )
                )
            url, params = (body.get("paging") or {}).get("next"), None  # the next page's URL has its query
        return found


def classify_graph_error(status: int, body, *, headers=None) -> SendResult:
    """Return how a Graph API error answer is to be treated."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") or ""
    text = f"Meta {status} error {code}: {error.get('message', '')} {details}".strip()[:2000]
    retry_after = retry_after_seconds(headers)
    if code in TRANSIENT_CODES:
        return SendResult(Outcome.TRANSIENT, error=text, error_code=str(code), retry_after=retry_after)
    if code in ACCOUNT_CODES:
        return SendResult(Outcome.TRANSIENT, error=text, error_code=str(code), retry_after=retry_after, account=True)
    if code in SUPPRESS_CODES:  # this message fails; the number is suppressed only at the limit
        return SendResult(Outcome.PERMANENT, error=text, error_code=str(code), suppress_at_limit=True)
    if code in MARKETING_OPT_OUT_CODES:
        return SendResult(Outcome.PERMANENT, error=text, error_code=str(code), suppress_category="marketing")
    if code is None:  # no Graph error document: an HTTP error from something in between
        outcome = classify_http_status(status)
        return SendResult(outcome, error=text, error_code=f"http_{status}", retry_after=retry_after)
    return SendResult(Outcome.PERMANENT, error=text, error_code=str(code))
