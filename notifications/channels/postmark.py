"""
Postmark's batch API through anymail's Postmark backend: many emails in one request, each with
its own outcome.

Each message goes through anymail's steps as a single send does (pre_send signal, payload,
recipient status, post_send signal, refused recipients), only the POST is shared: one request to
/email/batch, whose answer lists one result per message, in order. A request refused as a whole
(429, 5xx, a timeout) is refused for each of its messages; one refused as malformed (other 4xx)
accepted nothing, so its messages are sent one by one instead.

The common case is built here, not by anymail: an email with one plain address, a subject, text
and HTML, headers, metadata, one tag, attachments and the message stream (what the channel
sends) becomes Postmark's JSON directly, and a plain "OK" result becomes the recipient's "sent"
status. Anymail's payload and parsing were a third of our CPU per message; a test holds the
JSON built here equal to anymail's for every kind of email the channel makes. Anything else (a
display name, cc, a template, send defaults, a result that is not a plain "OK") goes through
anymail's own payload and parsing.
"""

import json
import re
from dataclasses import dataclass
from email.utils import getaddresses
from functools import cached_property
from urllib.parse import urljoin

import requests
from anymail.backends.base import BasePayload
from anymail.backends.postmark import EmailBackend as PostmarkBackend
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus, AnymailStatus
from anymail.utils import Attachment, parse_address_list
from django.conf import settings
from django.utils.module_loading import import_string

from .base import WRONG_ADDRESS_STATUSES, Outcome, classify_http_status

# Postmark takes up to 500 messages and 50 MB a request.
MAX_MESSAGES = 500
MAX_BYTES = 45 * 1024 * 1024
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# An ASCII address without a display name: Postmark gets it as it is (anymail would format it so).
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
# Message attributes only anymail's payload handles: a message with any of them goes through it.
ANYMAIL_ONLY = (
    "envelope_sender",
    "send_at",
    "track_clicks",
    "track_opens",
    "template_id",
    "merge_data",
    "merge_global_data",
    "merge_headers",
    "merge_metadata",
)
SPECIAL_HEADERS = {"reply-to", "from", "to"}  # anymail moves these out of the headers


def batches_configured() -> bool:
    """True when EMAIL_BACKEND is anymail's Postmark backend (whose emails go many to a request)."""
    return issubclass(import_string(settings.EMAIL_BACKEND), PostmarkBackend)


def can_batch(connection) -> bool:
    """True when `connection` is anymail's Postmark backend, sending through its plain /email API."""
    return (
        isinstance(connection, PostmarkBackend)
        and not connection.use_bulk_api
        and not connection.generate_message_id
        and connection.session is not None
    )


@dataclass
class _Entry:
    """One message of a batch: its place, the message, its JSON, and anymail's payload when built."""

    position: int
    message: object
    to: str
    data: str
    connection: PostmarkBackend
    built: object = None  # anymail's payload, when the message went through it

    @cached_property
    def payload(self):
        """Anymail's payload for the message (built on demand for a message whose JSON was made here)."""
        return self.built or self.connection.build_message_payload(self.message, self.connection.send_defaults)


def send_batch(connection: PostmarkBackend, messages: list) -> list[Exception | None]:
    """Send `messages` (EmailMessage objects), sharing requests to /email/batch; return for each the
    exception its send raised, or None (its `anymail_status` then says what Postmark made of it)."""
    errors: list[Exception | None] = [None] * len(messages)
    batch: list[_Entry] = []
    size = 0
    senders: dict[str, str] = {}  # the From as anymail formats it, by from_email
    for position, message in enumerate(messages):
        try:
            message.anymail_status = AnymailStatus()
            if not connection.run_pre_send(message) or not message.recipients():
                continue  # cancelled by a pre_send receiver, or nobody to send to: as send() does
            data = _plain_data(connection, message, senders)
            if data is not None:
                entry = _Entry(
                    position, message, data["To"], json.dumps(data, default=BasePayload._json_default), connection
                )
            else:
                payload = connection.build_message_payload(message, connection.send_defaults)
                if payload.get_api_endpoint() != "email" or payload.server_token != connection.server_token:
                    errors[position] = _finish_single(connection, message, payload)  # a template, another server
                    continue
                entry = _Entry(
                    position, message, str(payload.data.get("To", "")), payload.serialize_data(), connection, payload
                )
        except Exception as exc:
            errors[position] = exc
            continue
        if batch and (len(batch) >= MAX_MESSAGES or size + len(entry.data) > MAX_BYTES):
            _post(connection, batch, errors)
            batch, size = [], 0
        batch.append(entry)
        size += len(entry.data)
    if batch:
        _post(connection, batch, errors)
    return errors


def _plain_data(connection: PostmarkBackend, message, senders: dict) -> dict | None:
    """Return Postmark's JSON for `message` as anymail would make it, or None when the message uses
    more than the channel's plain emails do (then anymail's payload makes it)."""
    if (
        connection.send_defaults
        or message.cc
        or message.bcc
        or message.reply_to
        or message.content_subtype != "plain"
        or any(hasattr(message, name) for name in ANYMAIL_ONLY)
        or len(message.to) != 1
        or not PLAIN_ADDRESS.fullmatch(message.to[0])
        or any(name.lower() in SPECIAL_HEADERS for name in message.extra_headers)
    ):
        return None
    alternatives = list(message.alternatives)
    if len(alternatives) > 1 or any(mimetype != "text/html" for _, mimetype in alternatives):
        return None
    tags = list(getattr(message, "tags", None) or [])
    if len(tags) > 1:
        return None  # anymail says Postmark takes one tag
    if message.from_email not in senders:
        senders[message.from_email] = ", ".join(
            address.format(idna_encode=connection.idna_encode)
            for address in parse_address_list(message.from_email, field="from_email")
        )
    data = {} if connection.message_stream is None else {"MessageStream": connection.message_stream}
    data |= {"From": senders[message.from_email], "To": message.to[0], "Subject": str(message.subject)}
    if message.extra_headers:
        data["Headers"] = [{"Name": name, "Value": value} for name, value in message.extra_headers.items()]
    data["TextBody"] = str(message.body)
    if alternatives:
        data["HtmlBody"] = str(alternatives[0][0])
    if message.attachments:
        data["Attachments"] = [
            {"Name": found.name or "", "Content": found.b64content, "ContentType": found.content_type}
            for found in map(Attachment, message.attachments)
        ]
    metadata = getattr(message, "metadata", None)
    if metadata is not None:
        data["Metadata"] = dict(metadata)
    if tags:
        data["Tag"] = tags[0]
    extra = dict(getattr(message, "esp_extra", None) or {})
    if "server_token" in extra:
        return None  # another server: a request of its own
    return data | extra


def stream_for(connection, *, marketing: bool) -> str:
    """Return the Postmark message stream for an email (empty: the server's default), or "" for other providers."""
    if not isinstance(connection, PostmarkBackend):
        return ""
    return settings.POSTMARK_BROADCAST_STREAM if marketing else settings.POSTMARK_TRANSACTIONAL_STREAM


def can_search(connection) -> bool:
    """True when `connection` is anymail's Postmark backend, open: its message search can be asked."""
    return isinstance(connection, PostmarkBackend) and connection.session is not None


def search_outbound(
    connection: PostmarkBackend, *, metadata: dict[str, str], recipient: str = "", stream: str = ""
) -> list[dict]:
    """Return the outbound messages Postmark has with this metadata (its message search; Postmark
    matches one metadata field a search, in one stream: the default one unless `stream` names
    another); raise requests' or anymail's error when it cannot say."""
    (key, value), *_ = metadata.items()
    params = {"count": 50, "offset": 0, f"metadata_{key}": value}
    if recipient:
        params["recipient"] = recipient
    if stream:
        params["messagestream"] = stream
    response = connection.session.request(
        "GET",
        urljoin(connection.api_url, "messages/outbound"),
        params=params,
        headers={"Accept": "application/json", "X-Postmark-Server-Token": connection.server_token},
        timeout=connection.timeout,
    )
    if response.status_code != 200:
        raise AnymailAPIError(f"Postmark's message search answered {response.status_code}: {response.text[:200]}")
    found = response.json().get("Messages") or []
    return [message for message in found if str((message.get("Metadata") or {}).get(key)) == str(value)]


def _post(connection: PostmarkBackend, batch: list[_Entry], errors: list) -> None:
    if len(batch) == 1:
        errors[batch[0].position] = _finish_entry(connection, batch[0])
        return
    url = urljoin(connection.api_url, "email/batch")
    try:
        response = connection.session.request(
            "POST",
            url,
            data="[" + ",".join(entry.data for entry in batch) + "]",
            headers={**JSON_HEADERS, "X-Postmark-Server-Token": connection.server_token},
            timeout=connection.timeout,
        )
    except requests.RequestException as err:
        for entry in batch:
            errors[entry.position] = _posting_error(err, url, entry.message, entry.built)
        return
    if not 200 <= response.status_code < 300:
        wrong_address = response.status_code in WRONG_ADDRESS_STATUSES  # each message alone would get it too
        if classify_http_status(response.status_code) is Outcome.PERMANENT and not wrong_address:
            # Refused as a whole, so nothing went out: let each message get its own answer.
            for entry in batch:
                errors[entry.position] = _finish_entry(connection, entry)
            return
        for entry in batch:
            errors[entry.position] = AnymailRequestsAPIError(
                email_message=entry.message, payload=entry.built, response=response, backend=connection
            )
        return
    results = _results(response, batch)
    if results is None:
        for entry in batch:
            # Postmark has the request; what it made of each message, we cannot tell.
            errors[entry.position] = AnymailAPIError(
                "Postmark's batch answer does not list one result per message sent.",
                email_message=entry.message,
                payload=entry.built,
            )
        return
    for entry, result in zip(batch, results, strict=True):
        if entry.built is None and _plainly_sent(result):
            errors[entry.position] = _finish_sent(connection, entry, result, response)
        else:
            errors[entry.position] = _finish_entry(connection, entry, _response_for(response, result))


def _finish_entry(connection: PostmarkBackend, entry: _Entry, response=None) -> Exception | None:
    """Finish one message through anymail: from its result's `response`, or (None) sent alone."""
    try:
        payload = entry.payload
    except Exception as exc:
        return exc
    if response is None:
        return _finish_single(connection, entry.message, payload)
    return _finish_from(connection, entry.message, payload, response)


def _plainly_sent(result: dict) -> bool:
    """True when Postmark's result says the message was accepted, with nothing more to read in it
    (not delayed, no inactive recipients: those go through anymail's parsing)."""
    return result.get("ErrorCode", 0) == 0 and result.get("Message") == "OK" and bool(result.get("MessageID"))


def _finish_sent(connection: PostmarkBackend, entry: _Entry, result: dict, response) -> Exception | None:
    """Do what anymail's send does for a message Postmark accepted: its recipient is "sent"."""
    try:
        status = entry.message.anymail_status
        status.esp_response = response
        status.set_recipient_status({entry.to: AnymailRecipientStatus(message_id=result["MessageID"], status="sent")})
        connection.run_post_send(entry.message)
    except Exception as exc:
        return exc
    return None


def _results(response, batch: list[_Entry]) -> list | None:
    """Return Postmark's results, one per message in order, or None when they do not match."""
    try:
        results = response.json()
    except ValueError:
        return None
    if not isinstance(results, list) or len(results) != len(batch):
        return None
    for entry, result in zip(batch, results, strict=True):
        if not isinstance(result, dict):
            return None
        to = result.get("To")
        if to is not None and not _same_recipients(str(to), entry.to):
            return None
    return results


def _same_recipients(answered: str, sent: str) -> bool:
    if answered.lower() == sent.lower():
        return True
    return {address.lower() for _, address in getaddresses([answered])} == {
        address.lower() for _, address in getaddresses([sent])
    }


def _response_for(response, result: dict) -> requests.Response:
    """Return one message's result as the response a single send would have had."""
    single = requests.Response()
    # A single send answers 422 with the same body when Postmark refuses the message.
    single.status_code = 200 if result.get("ErrorCode", 0) == 0 else 422
    single._content = json.dumps(result).encode()
    single.encoding = "utf-8"
    single.headers = response.headers
    single.url = response.url
    single.request = response.request
    single.reason = "OK" if single.status_code == 200 else "Unprocessable Entity"
    return single


def _finish_single(connection: PostmarkBackend, message, payload) -> Exception | None:
    try:
        response = connection.post_to_esp(payload, message)
    except Exception as exc:
        return exc
    return _finish_from(connection, message, payload, response)


def _finish_from(connection: PostmarkBackend, message, payload, response) -> Exception | None:
    """Do what anymail's send does once Postmark has answered for the message."""
    try:
        message.anymail_status.esp_response = response
        message.anymail_status.set_recipient_status(connection.parse_recipient_status(response, payload, message))
        connection.run_post_send(message)
        connection.raise_for_recipient_status(message.anymail_status, response, payload, message)
    except Exception as exc:
        return exc
    return None


def _posting_error(err: requests.RequestException, url: str, message, payload) -> Exception:
    # As anymail raises it: both its API error and the original requests error, "from" it.
    error_class = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, type(err)), {})
    error = error_class(f"Error posting to {url}:", email_message=message, payload=payload)
    error.__cause__ = err
    return error
