"""
Email through Django's email API: any backend works (anymail ESPs, SMTP, file, console).

With an anymail backend the delivery id travels in the message metadata, so tracking
webhooks find their row; errors are sorted into retry-later, never-again and don't-know.
"""

import smtplib
import socket
from dataclasses import dataclass, field
from email.utils import make_msgid

import requests
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from . import postmark
from .base import (
    WRONG_ADDRESS_STATUSES,
    Outcome,
    ProviderMessage,
    SendResult,
    classify_http_status,
    retry_after_seconds,
)


@dataclass
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    delivery_id: int
    kind: str
    headers: dict = field(default_factory=dict)
    attachments: list = field(default_factory=list)
    from_email: str = ""
    # Marketing mail: through the provider's broadcast stream, never in a request with transactional mail.
    marketing: bool = False


class EmailChannel:
    """One connection for a batch of sends: `with EmailChannel() as channel: channel.send(...)`."""

    def __init__(self, connection=None):
        self.connection = connection or get_connection(fail_silently=False)

    def __enter__(self):
        try:
            self.connection.open()
        except Exception:  # an unreachable SMTP server: each send reports it
            pass
        _read_environment_once(self.connection)
        return self

    def __exit__(self, *exc_info):
        try:
            self.connection.close()
        except Exception:
            pass

    def send(self, email: OutgoingEmail) -> SendResult:
        """Send one email and say how it went."""
        message = self._message(email)
        try:
            message.send()
        except Exception as exc:
            return classify_email_error(exc)
        return _result(message, email)

    def send_many(self, emails: list[OutgoingEmail]) -> list[SendResult]:
        """Send emails and say how each went, in one request where the provider has a batch API."""
        if len(emails) < 2 or not postmark.can_batch(self.connection):
            return [self.send(email) for email in emails]
        messages = [self._message(email) for email in emails]
        errors = postmark.send_batch(self.connection, messages)
        return [
            classify_email_error(error) if error is not None else _result(message, email)
            for email, message, error in zip(emails, messages, errors, strict=True)
        ]

    def find_sent(
        self, *, delivery_id: int, to: str, marketing: bool = False, **window
    ) -> list[ProviderMessage] | None:
        """Return what the provider has of the email for `delivery_id` (found by its metadata, in the
        stream it went through), or None when this backend cannot be asked (console, file, SMTP:
        staff settle by hand)."""
        if not postmark.can_search(self.connection):
            return None
        found = postmark.search_outbound(
            self.connection,
            metadata={"delivery_id": str(delivery_id)},
            recipient=to,
            stream=postmark.stream_for(self.connection, marketing=marketing),
        )
        return [
            ProviderMessage(
                provider_message_id=str(message.get("MessageID", "")),
                status=str(message.get("Status", "")),
                detail=f"Postmark has message {message.get('MessageID')} ({message.get('Status')}, "
                f"received {message.get('ReceivedAt')}) with delivery_id {delivery_id}.",
            )
            for message in found
        ]

    def _message(self, email: OutgoingEmail) -> EmailMultiAlternatives:
        message_id = make_msgid(domain=_message_id_domain())
        headers = {"Message-ID": message_id, "X-Delivery-ID": str(email.delivery_id), **email.headers}
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=email.from_email or settings.DEFAULT_FROM_EMAIL,
            to=[email.to],
            headers=headers,
            connection=self.connection,
        )
        if email.html:
            message.attach_alternative(email.html, "text/html")
        for filename, content, mimetype in email.attachments:
            message.attach(filename, content, mimetype)
        # Read by anymail backends; other backends ignore these attributes.
        message.metadata = {"delivery_id": str(email.delivery_id), "kind": email.kind}
        message.tags = [email.kind]
        stream = postmark.stream_for(self.connection, marketing=email.marketing)
        if stream:
            message.esp_extra = {"MessageStream": stream}
        return message


def _result(message: EmailMultiAlternatives, email: OutgoingEmail) -> SendResult:
    """Return how a send that raised nothing went, from what the backend says of the recipient."""
    status = getattr(message, "anymail_status", None)
    if status is None:
        return SendResult.sent(message.extra_headers["Message-ID"].strip("<>"))
    recipient = status.recipients.get(email.to) if status.recipients else None
    provider_id = (recipient.message_id if recipient else None) or status.message_id or ""
    states = {recipient.status} if recipient else (status.status or set())
    if states and states <= {"rejected", "invalid"}:
        return SendResult(
            Outcome.PERMANENT,
            provider_message_id=str(provider_id or ""),
            error=f"Provider refused the recipient ({', '.join(sorted(states))}).",
            error_code=next(iter(states)),
            suppress="invalid" in states,
        )
    return SendResult.sent(str(provider_id))


def classify_email_error(exc: Exception) -> SendResult:
    """Return how a failed email send is to be treated."""
    text = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, AnymailRecipientsRefused):
        return SendResult(Outcome.PERMANENT, error=text, error_code="recipient_refused", suppress=True)
    status = getattr(exc, "status_code", None) if isinstance(exc, AnymailAPIError) else None
    if status is not None:
        return classify_api_error(status, getattr(exc, "response", None), text)
    if isinstance(exc, requests.RequestException) or isinstance(exc.__cause__, requests.RequestException):
        outcome = _classify_network_error(exc)
        # A connection that never got through fails every message alike: pause the channel, fail none.
        return SendResult(outcome, error=text, error_code="network", account=outcome is Outcome.TRANSIENT)
    if isinstance(exc, AnymailAPIError):  # e.g. an unreadable answer after the post went through
        return SendResult(Outcome.UNKNOWN, error=text, error_code="provider")
    if isinstance(exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused)):
        # Our login or our sender address is refused: every message would be, until it is fixed.
        return SendResult(Outcome.TRANSIENT, error=text, error_code=f"smtp_{exc.smtp_code}", account=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # {address: (code, message)}: one recipient per message here, so its reply is the outcome.
        code = next((reply[0] for reply in exc.recipients.values()), 550)
        return classify_smtp_reply(code, text, recipient_reply=True)
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):  # no SMTP server there: the channel's condition
        return SendResult(Outcome.TRANSIENT, error=text, error_code="smtp_unreachable", account=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return classify_smtp_reply(exc.smtp_code, text, recipient_reply=False)
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return SendResult(Outcome.TRANSIENT, error=text, error_code="smtp")
    # A bug in rendering or a backend: retrying will not help, and hides the bug.
    return SendResult(Outcome.PERMANENT, error=text, error_code="error")


# HTTP answers that say the account cannot send (no message would get through): a bad or missing
# key (401), no credit (Brevo's 402), not allowed (403: SendGrid's unverified sender, Mailgun's
# disabled domain).
ACCOUNT_HTTP_STATUSES = {401, 402, 403}
# Postmark's ErrorCodes for the same (postmarkapp.com/developer/api/overview#error-codes): bad or
# missing server token (10), sender signature not found (400) or not confirmed (401), out of
# credits (405), account pending approval (412), account may not send (413).
POSTMARK_ACCOUNT_CODES = {10, 400, 401, 405, 412, 413}
# Postmark's per-message "rate limit exceeded" inside a batch answer: try again later.
POSTMARK_TRANSIENT_CODES = {429}


def classify_api_error(status: int, response, text: str) -> SendResult:
    """Return how an email provider's HTTP error is to be treated (the account's, the message's, or a moment's)."""
    retry_after = retry_after_seconds(getattr(response, "headers", None))
    try:
        code = int((response.json() or {}).get("ErrorCode")) if response is not None else None
    except (ValueError, TypeError, AttributeError):
        code = None
    # A refused message answers 422 with Postmark's own code, which says more than the status.
    error_code = f"postmark_{code}" if code and status == 422 else f"http_{status}"
    if status in ACCOUNT_HTTP_STATUSES or code in POSTMARK_ACCOUNT_CODES:
        return SendResult(Outcome.TRANSIENT, error=text, error_code=error_code, retry_after=retry_after, account=True)
    if status in WRONG_ADDRESS_STATUSES or (
        code is None and 400 <= status < 500 and status not in (408, 429) and not _json(response)
    ):
        # Not an answer about this message (a wrong API URL answers 404, or a page that is not the
        # provider's JSON): every message would get it. A channel condition: pause, fail nothing.
        text = f"{text} (the provider answers this for every message: is its API URL wrong?)"
        return SendResult(Outcome.TRANSIENT, error=text, error_code=error_code, retry_after=retry_after, account=True)
    if code in POSTMARK_TRANSIENT_CODES:
        return SendResult(Outcome.TRANSIENT, error=text, error_code=error_code, retry_after=retry_after)
    return SendResult(classify_http_status(status), error=text, error_code=error_code, retry_after=retry_after)


def _json(response) -> bool:
    try:
        response.json()
    except Exception:
        return False
    return True


# Replies to RCPT that say the address itself is unusable (RFC 5321 §4.2.2, 4.2.3): no such
# mailbox (550), not local (551), mailbox name not allowed (553). Other 5xx refuse this message.
ADDRESS_REPLIES = {550, 551, 553}


def classify_smtp_reply(code: int, text: str, *, recipient_reply: bool) -> SendResult:
    """Return how an SMTP reply is to be treated: 4xx try again later, 5xx never, some 5xx to RCPT suppress.

    A greylisting 451 or a full mailbox's 452 is temporary (RFC 5321 §4.2.1): the message is
    retried with backoff and the address stays usable.
    """
    if 400 <= code < 500:
        return SendResult(Outcome.TRANSIENT, error=text, error_code=f"smtp_{code}")
    suppress = recipient_reply and code in ADDRESS_REPLIES
    return SendResult(Outcome.PERMANENT, error=text, error_code=f"smtp_{code}", suppress=suppress)


def _classify_network_error(exc: Exception) -> Outcome:
    """A connection that never got through is safe to retry; a lost answer is not."""
    # anymail re-raises requests' error as its own subclass, "from" the original.
    cause = exc.__cause__ if isinstance(exc.__cause__, requests.RequestException) else exc
    if isinstance(cause, requests.ConnectTimeout):
        return Outcome.TRANSIENT
    if isinstance(cause, requests.ReadTimeout):
        return Outcome.UNKNOWN
    if isinstance(cause, requests.ConnectionError):
        reason = repr(cause)
        if any(marker in reason for marker in ("NewConnectionError", "NameResolution", "Failed to establish")):
            return Outcome.TRANSIENT
        return Outcome.UNKNOWN
    return Outcome.TRANSIENT


def _read_environment_once(connection) -> None:
    """Read requests' settings from the environment once for the connection's API, not per send.

    A requests session looks up proxies, the CA bundle and .netrc in the environment on every
    request (scanning os.environ twice): a third of the HTTP client's time per message. Anymail's
    backends post to one API host, for which the answer does not change within a batch.
    """
    session, api_url = getattr(connection, "session", None), getattr(connection, "api_url", "")
    if not isinstance(session, requests.Session) or not session.trust_env or not api_url:
        return
    found = session.merge_environment_settings(api_url, {}, None, None, None)
    session.proxies, session.verify, session.cert = found["proxies"], found["verify"], found["cert"]
    if session.auth is None:
        session.auth = requests.utils.get_netrc_auth(api_url)
    session.trust_env = False


def _message_id_domain() -> str:
    sender = settings.DEFAULT_FROM_EMAIL
    return sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "localhost"
