"""What a channel reports back about one send attempt, and what a provider says it has."""

import enum
from dataclasses import dataclass
from datetime import datetime

import requests


class Outcome(enum.Enum):
    SENT = "sent"  # the provider accepted it
    TRANSIENT = "transient"  # not accepted, safe to try again later (network, 429, 5xx)
    PERMANENT = "permanent"  # will never work (invalid address, recipient refused)
    UNKNOWN = "unknown"  # may or may not have gone out (timeout after the request was sent)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str = ""
    error: str = ""
    error_code: str = ""
    # The provider asked us to wait this long before retrying (HTTP Retry-After).
    retry_after: float | None = None
    # The address should be suppressed (invalid number, recipient unsubscribed at the provider).
    suppress: bool = False
    # The address should be suppressed for one category only (stopped marketing messages).
    suppress_category: str = ""
    # Nothing is wrong with the message: the provider account cannot send (bad credentials, no
    # credit, locked), or the provider cannot be reached or answers nothing sensible at its address
    # (a wrong URL). Sending on the channel pauses; the message is not failed.
    account: bool = False
    # The address failed in a way that may be temporary (Meta 131026): counted, and suppressed
    # once it has happened SOFT_BOUNCE_LIMIT times, like a soft bounce.
    suppress_at_limit: bool = False

    @classmethod
    def sent(cls, provider_message_id: str = "") -> "SendResult":
        return cls(Outcome.SENT, provider_message_id=provider_message_id or "")


@dataclass(frozen=True)
class ProviderMessage:
    """A message the provider says it has (reconciliation's evidence)."""

    provider_message_id: str
    status: str  # the provider's own word: "Sent", "queued", "delivered", "failed"...
    failed: bool = False  # the provider has it and says it failed
    error_code: str = ""
    detail: str = ""  # for the delivery's history
    # What the provider shows of the message, to tell two messages to one number apart: its text
    # (Twilio's `body`: a template as filled in with its variables), when it shows it, and when it
    # was made (None: not said).
    body: str | None = None
    created_at: datetime | None = None


# HTTP statuses that say a request went to the wrong place (a wrong API URL or account in it: not
# found, method not allowed, gone): every message would get them, so they are the channel's
# condition (pause, retry later), never a message's failure.
WRONG_ADDRESS_STATUSES = frozenset({404, 405, 410})


def retry_after_seconds(headers) -> float | None:
    """Return the Retry-After header as seconds, when it is a number."""
    value = (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify_http_status(status: int) -> Outcome:
    """Return how an HTTP error status from a provider is to be treated."""
    if status == 429 or status >= 500 or status == 408:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def classify_requests_error(exc: Exception, *, provider: str) -> SendResult:
    """Return how a failed HTTP request to a provider is to be treated: a connection that never got
    through is safe to retry; once the request may have gone out, the outcome is unknown."""
    if isinstance(exc, requests.ConnectTimeout):
        return SendResult(Outcome.TRANSIENT, error=f"Could not reach {provider}: {exc}", error_code="network")
    if isinstance(exc, requests.ConnectionError):
        reached = not any(marker in repr(exc) for marker in ("NewConnectionError", "NameResolution"))
        outcome = Outcome.UNKNOWN if reached else Outcome.TRANSIENT
        return SendResult(outcome, error=f"Connection to {provider} failed: {exc}", error_code="network")
    # A read timeout: the request went out, and the provider may have accepted it.
    return SendResult(Outcome.UNKNOWN, error=f"{provider} did not answer in time: {exc}", error_code="timeout")
