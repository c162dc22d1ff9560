"""
WhatsApp through Twilio's Messages API with approved templates (Content API).

A message is `ContentSid` + `ContentVariables`, never a free-form `Body`: Meta refuses
business-initiated free text outside a 24-hour customer window (Twilio error 63016).
"""

import dataclasses
import datetime as dt
import json

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from ..base import (
    WRONG_ADDRESS_STATUSES,
    Outcome,
    ProviderMessage,
    SendResult,
    classify_http_status,
    classify_requests_error,
    retry_after_seconds,
)
from . import BaseWhatsAppBackend, TemplateInfo, WhatsAppMessage

# Twilio error codes that no retry will fix.
PERMANENT_CODES = {
    21211,  # invalid 'To' number
    21214,  # 'To' number cannot be reached
    21408,  # region not enabled
    21610,  # recipient replied STOP
    21612,  # cannot route to this number
    21614,  # 'To' is not a valid mobile number
    63003,  # channel could not find the 'To' address (no WhatsApp account)
    63014,  # blocked by the recipient
    63016,  # free-form message outside the 24-hour window (template needed)
    63024,  # invalid message recipient
    63032,  # the user cannot receive this message
}
# Of those, the ones that say the number itself is unusable: suppress it.
SUPPRESS_CODES = {21211, 21214, 21610, 21614, 63003, 63014, 63024}
TRANSIENT_CODES = {20429, 63018, 30001}  # rate limited, queue overflow

# The account or sender cannot send (every message would fail alike): pause, never fail messages.
ACCOUNT_CODES = {
    20003,  # authentication failed (a wrong SID or token)
    20005,  # account not active (suspended, closed)
    21606,  # the 'From' number is not one of this account's WhatsApp senders
    63007,  # no WhatsApp channel for the 'From' address
    63040,  # the sender is not approved by Meta
}


class HeaderKeepingHttpClient(TwilioHttpClient):
    """Keeps the headers of the last answer: Twilio's errors do not carry them, and a 429's
    Retry-After says when to try again."""

    last_headers = None

    def request(self, *args, **kwargs):
        response = super().request(*args, **kwargs)
        self.last_headers = response.headers
        return response


class RebasingHttpClient(HeaderKeepingHttpClient):
    """Sends Twilio API calls to another base URL (a test server or a proxy)."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith("https://"):
            path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
            url = f"{self.base_url}/{path}"
        return super().request(method, url, *args, **kwargs)


class WhatsAppBackend(BaseWhatsAppBackend):
    provider = "twilio"

    def __init__(self, account_sid=None, auth_token=None, from_=None, http_client=None, **kwargs):
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.from_ = from_ or settings.TWILIO_WHATSAPP_FROM
        if http_client is None:
            options = {"timeout": settings.TWILIO_TIMEOUT}
            if settings.TWILIO_API_BASE_URL:
                http_client = RebasingHttpClient(settings.TWILIO_API_BASE_URL, **options)
            else:
                http_client = HeaderKeepingHttpClient(**options)
        self.client = Client(self.account_sid, self.auth_token, http_client=http_client)

    def send(self, message: WhatsAppMessage) -> SendResult:
        if not message.content_sid and not message.free_text:
            return SendResult(
                Outcome.PERMANENT,
                error=f"No approved WhatsApp template is configured for {message.kind!r} (TWILIO_CONTENT_SIDS).",
                error_code="no_template",
            )
        if not message.free_text:
            refusal = self.template_refusal(name=message.content_sid, language=message.language)
            if refusal:  # it may be approved soon: retry with back-off, never send it unapproved
                return SendResult(Outcome.TRANSIENT, error=refusal, error_code="template_not_approved")
        sender = {"messaging_service_sid": self.from_} if self.from_.startswith("MG") else {"from_": _wa(self.from_)}
        options = {}
        if message.status_callback:
            options["status_callback"] = message.status_callback
        try:
            if message.free_text:  # a reply inside the 24-hour window the person's message opened
                content = {"body": message.body}
            else:
                content = {
                    "content_sid": message.content_sid,
                    "content_variables": json.dumps(message.content_variables, ensure_ascii=False),
                }
            created = self.client.messages.create(to=_wa(message.to), **content, **sender, **options)
        except TwilioRestException as exc:
            return classify_twilio_error(
                exc, retry_after=retry_after_seconds(getattr(self.client.http_client, "last_headers", None))
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            return unreachable_pauses(classify_requests_error(exc, provider="Twilio"))
        if getattr(created, "error_code", None):
            return classify_twilio_error(
                TwilioRestException(400, "", msg=created.error_message or "", code=int(created.error_code))
            )
        return SendResult.sent(created.sid)

    def find_sent(
        self, *, delivery_id: int, to: str, sent_after: dt.datetime, sent_before: dt.datetime
    ) -> list[ProviderMessage]:
        """Return the messages Twilio has to `to` created between the two times (its message list
        by recipient and DateSent, a day's resolution, narrowed here by creation time)."""
        found = self.client.messages.list(
            to=_wa(to), date_sent_after=sent_after.astimezone(dt.UTC).strftime("%Y-%m-%d"), limit=200
        )
        return [
            ProviderMessage(
                provider_message_id=message.sid,
                status=str(message.status),
                failed=str(message.status) in ("failed", "undelivered"),
                error_code=str(message.error_code or ""),
                detail=f"Twilio has message {message.sid} to {to} ({message.status}, created "
                f"{message.date_created:%Y-%m-%d %H:%M:%S} UTC).",
                body=message.body,
                created_at=message.date_created,
            )
            for message in found
            if message.date_created and sent_after <= message.date_created <= sent_before
        ]

    def list_templates(self) -> list[TemplateInfo]:
        """The account's Content templates with their WhatsApp approval (Content API: ContentAndApprovals)."""
        found = []
        for content in self.client.content.v1.content_and_approvals.list(page_size=100):
            approval = (content.approval_requests or {}) if isinstance(content.approval_requests, dict) else {}
            text = next((kind.get("body", "") for kind in (content.types or {}).values() if isinstance(kind, dict)), "")
            found.append(
                TemplateInfo(
                    name=content.sid,
                    friendly_name=content.friendly_name or approval.get("name", ""),
                    language=content.language or "",
                    status=str(approval.get("status") or "unknown").lower(),
                    category=str(approval.get("category") or "").lower(),
                    body=text,
                )
            )
        return found


def classify_twilio_error(exc: TwilioRestException, *, retry_after: float | None = None) -> SendResult:
    """Return how a Twilio API error is to be treated (`retry_after`: its answer's Retry-After)."""
    code = exc.code
    text = f"Twilio {exc.status} error {code}: {exc.msg}"[:2000]
    if code in ACCOUNT_CODES or exc.status == 401:
        return SendResult(Outcome.TRANSIENT, error=text, error_code=str(code or f"http_{exc.status}"), account=True)
    if exc.status in WRONG_ADDRESS_STATUSES or (
        400 <= exc.status < 500 and exc.status not in (408, 429) and not (code and code >= 10000)
    ):
        # Not an answer about this message (no Twilio error code, or "not found" for the account's
        # own Messages resource): every message would get it. A channel condition, never each
        # message's fault: the channel pauses and its messages wait.
        return SendResult(
            Outcome.TRANSIENT,
            error=f"{text} (Twilio answers this for every message: a wrong TWILIO_API_BASE_URL or account SID?)",
            error_code=f"http_{exc.status}",
            retry_after=retry_after,
            account=True,
        )
    if code in PERMANENT_CODES:
        outcome = Outcome.PERMANENT
    elif code in TRANSIENT_CODES:
        outcome = Outcome.TRANSIENT
    else:
        outcome = classify_http_status(exc.status)
    return SendResult(
        outcome,
        error=text,
        error_code=str(code or f"http_{exc.status}"),
        suppress=code in SUPPRESS_CODES,
        retry_after=retry_after,
    )


def unreachable_pauses(result: SendResult) -> SendResult:
    """A connection that never got through (refused, no such host, connect timeout) fails every
    message alike: a channel condition (pause, retry), not this message's fault."""
    if result.outcome is not Outcome.TRANSIENT:
        return result
    return dataclasses.replace(result, account=True)


def _wa(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def signed_by_twilio(request, *, url: str) -> bool:
    """Whether a webhook request to `url` carries Twilio's signature made with our auth token
    (False, failing closed, when no token is configured or the request is unsigned)."""
    token, signature = settings.TWILIO_AUTH_TOKEN, request.headers.get("X-Twilio-Signature", "")
    return bool(token and signature and RequestValidator(token).validate(url, request.POST, signature))
