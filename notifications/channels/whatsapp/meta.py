"""
WhatsApp through Meta's Cloud API (the Graph API), with approved templates: no Twilio in between.

A message is a template (its name and language) with its body variables in order; our delivery
id rides along as `biz_opaque_callback_data`, which Meta echoes in every status webhook, so a
status finds its row even when the answer to the send was lost. Errors are classified by Meta's
error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
"""

import logging

import requests
from django.conf import settings

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
# number is suppressed only after it happened SOFT_BOUNCE_LIMIT times (the status webhook counts).
SUPPRESS_CODES = {131026}
# The person stopped this business's marketing messages in WhatsApp itself.
MARKETING_OPT_OUT_CODES = {131050}
# Everything else in 100, 131xxx and 132xxx is about this message (a template that does not exist
# or is paused, a missing parameter, outside the 24-hour window): permanent.


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
        return message.template_name or settings.META_WHATSAPP_TEMPLATES.get(message.kind, "")

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
        parameters = [
            {"type": "text", "text": str(value)}
            for _, value in sorted(message.content_variables.items(), key=lambda item: int(item[0]))
        ]
        template = {
            "name": self.template_for(message),
            "language": {"code": message.language or settings.META_WHATSAPP_DEFAULT_LANGUAGE},
        }
        if parameters:
            template["components"] = [{"type": "body", "parameters": parameters}]
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

    def send(self, message: WhatsAppMessage) -> SendResult:
        if not message.free_text and not self.template_for(message):
            return SendResult(
                Outcome.PERMANENT,
                error=f"No approved WhatsApp template is configured for {message.kind!r} (META_WHATSAPP_TEMPLATES).",
                error_code="no_template",
            )
        if not message.free_text:
            refusal = self.template_refusal(
                name=self.template_for(message), language=message.language or settings.META_WHATSAPP_DEFAULT_LANGUAGE
            )
            if refusal:  # it may be approved soon: retry with back-off, never send it unapproved
                return SendResult(Outcome.TRANSIENT, error=refusal, error_code="template_not_approved")
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
        return SendResult(Outcome.PERMANENT, error=text, error_code=str(code))
    if code in MARKETING_OPT_OUT_CODES:
        return SendResult(Outcome.PERMANENT, error=text, error_code=str(code), suppress_category="marketing")
    if code is None:  # no Graph error document: an HTTP error from something in between
        outcome = classify_http_status(status)
        return SendResult(outcome, error=text, error_code=f"http_{status}", retry_after=retry_after)
    return SendResult(Outcome.PERMANENT, error=text, error_code=str(code))
