"""
Postmark's batch API through anymail's Postmark backend: many emails in one request, each with
its own outcome.

Each message goes through anymail exactly as a single send does (pre_send signal, payload,
recipient status, post_send signal, refused recipients), only the POST is shared: one
request to /email/batch, whose answer lists one result per message, in order. A request
refused as a whole (429, 5xx, a timeout) is refused for each of its messages; one refused
as malformed (other 4xx) accepted nothing, so its messages are sent one by one instead.
"""

import json
from email.utils import getaddresses
from urllib.parse import urljoin

import requests
from anymail.backends.postmark import EmailBackend as PostmarkBackend
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from anymail.message import AnymailStatus
from django.conf import settings

from .base import Outcome, classify_http_status

# Postmark takes up to 500 messages and 50 MB a request.
MAX_MESSAGES = 500
MAX_BYTES = 45 * 1024 * 1024


def can_batch(connection) -> bool:
    """True when `connection` is anymail's Postmark backend, sending through its plain /email API."""
    return (
        isinstance(connection, PostmarkBackend)
        and not connection.use_bulk_api
        and not connection.generate_message_id
        and connection.session is not None
    )


def send_batch(connection: PostmarkBackend, messages: list) -> list[Exception | None]:
    """Send `messages` (EmailMessage objects), sharing requests to /email/batch; return for each the
    exception its send raised, or None (its `anymail_status` then says what Postmark made of it)."""
    errors: list[Exception | None] = [None] * len(messages)
    batch: list[tuple[int, object, object, str]] = []  # (position, message, payload, its JSON)
    size = 0
    for position, message in enumerate(messages):
        try:
            payload = _prepare(connection, message)
            if payload is None:
                continue  # cancelled by a pre_send receiver, or nobody to send to: as send() does
            if payload.get_api_endpoint() != "email" or payload.server_token != connection.server_token:
                errors[position] = _finish_single(connection, message, payload)  # a template, another server
                continue
            data = payload.serialize_data()
        except Exception as exc:
            errors[position] = exc
            continue
        if batch and (len(batch) >= MAX_MESSAGES or size + len(data) > MAX_BYTES):
            _post(connection, batch, errors)
            batch, size = [], 0
        batch.append((position, message, payload, data))
        size += len(data)
    if batch:
        _post(connection, batch, errors)
    return errors


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


def _prepare(connection: PostmarkBackend, message):
    """Do what anymail's send does before posting; return the payload, or None when not to send."""
    message.anymail_status = AnymailStatus()
    if not connection.run_pre_send(message) or not message.recipients():
        return None
    return connection.build_message_payload(message, connection.send_defaults)


def _post(connection: PostmarkBackend, batch: list, errors: list) -> None:
    if len(batch) == 1:
        position, message, payload, _ = batch[0]
        errors[position] = _finish_single(connection, message, payload)
        return
    first = batch[0][2]
    url = urljoin(connection.api_url, "email/batch")
    try:
        response = connection.session.request(
            "POST",
            url,
            data="[" + ",".join(data for *_, data in batch) + "]",
            headers={**first.headers, "X-Postmark-Server-Token": first.server_token},
            timeout=connection.timeout,
        )
    except requests.RequestException as err:
        for position, message, payload, _ in batch:
            errors[position] = _posting_error(err, url, message, payload)
        return
    if not 200 <= response.status_code < 300:
        if classify_http_status(response.status_code) is Outcome.PERMANENT:
            # Refused as a whole, so nothing went out: let each message get its own answer.
            for position, message, payload, _ in batch:
                errors[position] = _finish_single(connection, message, payload)
            return
        for position, message, payload, _ in batch:
            errors[position] = AnymailRequestsAPIError(
                email_message=message, payload=payload, response=response, backend=connection
            )
        return
    results = _results(response, batch)
    if results is None:
        for position, message, payload, _ in batch:
            # Postmark has the request; what it made of each message, we cannot tell.
            errors[position] = AnymailAPIError(
                "Postmark's batch answer does not list one result per message sent.",
                email_message=message,
                payload=payload,
            )
        return
    for (position, message, payload, _), result in zip(batch, results, strict=True):
        errors[position] = _finish_from(connection, message, payload, _response_for(response, result))


def _results(response, batch) -> list | None:
    """Return Postmark's results, one per message in order, or None when they do not match."""
    try:
        results = response.json()
    except ValueError:
        return None
    if not isinstance(results, list) or len(results) != len(batch):
        return None
    for (_, _, payload, _), result in zip(batch, results, strict=True):
        if not isinstance(result, dict):
            return None
        to = result.get("To")
        if to is not None and not _same_recipients(str(to), str(payload.data.get("To", ""))):
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
