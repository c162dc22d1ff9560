"""
Dispatch: claim due deliveries, send them, record each outcome. Many workers may run at once.

The life cycle (shared/DESIGN.md): pending -> sending -> sent | pending (retry) | failed |
unknown; suppressed and expired without a provider call. A claim is one short transaction;
sending happens outside any transaction; each outcome is recorded only while the row is
still `sending` under this claim, so a slow worker can never overwrite another's result.
"""

import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from ..channels.base import Outcome, SendResult
from ..channels.email import EmailChannel, OutgoingEmail
from ..channels.whatsapp import WhatsAppMessage, get_whatsapp_backend
from ..kinds import get_kind
from ..models import Channel, Delivery, DeliveryEvent, NotificationPreference, Suppression
from ..phones import is_valid_e164
from ..rendering import absolute_url, render_email, render_whatsapp, unsubscribe_url
from .ledger import ClaimOutcome, record_claim_outcomes

logger = logging.getLogger(__name__)
Status = Delivery.Status
_BLOCKED_STATUS = {"expired": Status.EXPIRED, "cancelled": Status.CANCELLED}


@dataclass
class DispatchResult:
    outcomes: Counter = field(default_factory=Counter)  # by final status of this attempt
    reasons: Counter = field(default_factory=Counter)  # suppressed/expired/failed, by reason

    @property
    def sent(self) -> int:
        return self.outcomes[Status.SENT]

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values())


def dispatch_due_deliveries(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> DispatchResult:
    """Send every delivery that is due; return the outcomes by status."""
    now = now or timezone.now()
    batch_size = batch_size or settings.NOTIFICATIONS["DISPATCH_BATCH_SIZE"]
    result = DispatchResult()
    result.outcomes[Status.UNKNOWN] += expire_stale_claims(now=now)
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed = claim_due_deliveries(now=now, limit=batch_size)
        if not claimed:
            break
        send_claimed_deliveries(deliveries=claimed, now=now, result=result)
        batches += 1
    return result


def dispatch_deliveries(*, ids: list[int], now: datetime | None = None) -> DispatchResult:
    """Send these deliveries now if they are still pending (e.g. a welcome email right after commit)."""
    now = now or timezone.now()
    result = DispatchResult()
    claimed = claim_due_deliveries(now=now, limit=len(ids), ids=ids) if ids else []
    if claimed:
        send_claimed_deliveries(deliveries=claimed, now=now, result=result)
    return result


def expire_stale_claims(*, now: datetime) -> int:
    """Mark rows stuck in `sending` past their lease as `unknown`: they may have gone out."""
    lease = timedelta(seconds=settings.NOTIFICATIONS["SENDING_LEASE_SECONDS"])
    with transaction.atomic():
        stale = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SENDING, claimed_at__lt=now - lease)
            .values_list("id", flat=True)
        )
        if not stale:
            return 0
        Delivery.objects.filter(id__in=stale, status=Status.SENDING).update(
            status=Status.UNKNOWN,
            last_error="The worker stopped while sending; the provider may or may not have it.",
            updated_at=now,
        )
        DeliveryEvent.objects.bulk_create(
            DeliveryEvent(delivery_id=pk, at=now, status=Status.UNKNOWN, detail="Sending lease expired.")
            for pk in stale
        )
    logger.warning("%d deliveries were left in 'sending' past their lease and are now 'unknown'.", len(stale))
    return len(stale)


def claim_due_deliveries(*, now: datetime, limit: int, ids: list[int] | None = None) -> list[Delivery]:
    """Claim up to `limit` due rows (of `ids`, when given) in one short transaction; return them."""
    token = uuid.uuid4()
    due = Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(id__in=ids)
    with transaction.atomic():
        claimed = list(
            due.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not claimed:
            return []
        Delivery.objects.filter(id__in=claimed).update(
            status=Status.SENDING, claimed_at=now, claim_token=token, attempts=F("attempts") + 1, updated_at=now
        )
    return list(Delivery.objects.filter(id__in=claimed, claim_token=token).order_by("next_attempt_at", "id"))


def send_claimed_deliveries(*, deliveries: list[Delivery], now: datetime, result: DispatchResult) -> None:
    """Send deliveries this worker has claimed and record each outcome."""
    blocked = _blocked_reasons(deliveries)
    outcomes = OutcomeBuffer(now=now)
    emails: list[tuple[Delivery, OutgoingEmail]] = []  # rendered, to go out in one request
    per_request = settings.NOTIFICATIONS["EMAILS_PER_REQUEST"]
    email_channel = whatsapp = None

    def record(delivery: Delivery, outcome: SendResult) -> None:
        status = record_outcome(delivery=delivery, result=outcome, now=now, outcomes=outcomes)
        result.outcomes[status] += 1
        if status in (Status.FAILED, Status.UNKNOWN):
            result.reasons[outcome.error_code or "error"] += 1

    def send_emails() -> None:
        sending, emails[:] = list(emails), []
        for (delivery, _), outcome in zip(
            sending, email_channel.send_many([email for _, email in sending]), strict=True
        ):
            record(delivery, outcome)
        outcomes.flush_if_due()

    try:
        for delivery in deliveries:
            reason = blocked.get(delivery.pk) or _stale_reason(delivery, now)
            if reason:
                status = _BLOCKED_STATUS.get(reason.split("_")[0], Status.SUPPRESSED)
                outcomes.add(delivery, status=status, detail=reason)
                result.outcomes[status] += 1
                result.reasons[reason] += 1
            elif delivery.channel == Channel.EMAIL:
                email_channel = email_channel or EmailChannel().__enter__()
                email = _render_email(delivery)
                if isinstance(email, SendResult):
                    record(delivery, email)
                    continue
                emails.append((delivery, email))
                if len(emails) >= per_request:
                    send_emails()
            else:
                whatsapp = whatsapp or get_whatsapp_backend().__enter__()
                record(delivery, _send_whatsapp(delivery, whatsapp))
                outcomes.flush_if_due()
        if emails:
            send_emails()
    finally:
        try:
            outcomes.flush()
        finally:
            if email_channel:
                email_channel.__exit__(None, None, None)
            if whatsapp:
                whatsapp.__exit__(None, None, None)


class OutcomeBuffer:
    """Outcomes of a batch, written together (two statements) within about a second of each send.

    Written per message, an outcome cost an UPDATE and an INSERT, more than the send itself.
    Held longer, a crash would leave more rows to become `unknown` when their lease ends.
    """

    MAX_SECONDS = 1.0

    def __init__(self, *, now: datetime):
        self.now = now
        self.pending: list[ClaimOutcome] = []
        self.since = 0.0

    def add(self, delivery: Delivery, *, status: str, detail: str, **fields) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(
            ClaimOutcome(
                delivery_id=delivery.pk, claim_token=delivery.claim_token, status=status, detail=detail, **fields
            )
        )

    def flush_if_due(self) -> None:
        if self.pending and time.monotonic() - self.since >= self.MAX_SECONDS:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        recorded = record_claim_outcomes(outcomes=pending, now=self.now)
        for outcome in pending:
            if outcome.delivery_id not in recorded:
                logger.warning(
                    "Delivery %s was settled by someone else while being sent; kept their result.", outcome.delivery_id
                )


def _render_email(delivery: Delivery) -> OutgoingEmail | SendResult:
    """Return the email to send for `delivery`, or the failure when it cannot be rendered."""
    kind = get_kind(delivery.kind)
    context, headers = delivery.context, {}
    if kind.is_marketing:
        # RFC 8058 one-click unsubscribe; mail clients POST "List-Unsubscribe=One-Click". The same
        # link in the headers and the body (a token signed twice could differ by its time stamp).
        link = unsubscribe_url(delivery_id=delivery.pk)
        context = {**context, "unsubscribe_url": link}
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    try:
        rendered = render_email(kind=kind, context=context, delivery_id=delivery.pk)
        attachments = import_string(kind.attachments)(delivery.context) if kind.attachments else []
    except Exception as exc:
        logger.exception("Could not render delivery %s", delivery.pk)
        return SendResult(Outcome.PERMANENT, error=f"Rendering failed: {exc}", error_code="render_error")
    delivery.rendered_subject, delivery.rendered_text = rendered.subject[:255], rendered.stored_text
    return OutgoingEmail(
        to=delivery.to_address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        delivery_id=delivery.pk,
        kind=delivery.kind,
        headers=headers,
        attachments=attachments,
    )


def _send_whatsapp(delivery: Delivery, backend) -> SendResult:
    kind = get_kind(delivery.kind)
    try:
        rendered, variables = render_whatsapp(kind=kind, context=delivery.context)
    except Exception as exc:
        logger.exception("Could not render delivery %s", delivery.pk)
        return SendResult(Outcome.PERMANENT, error=f"Rendering failed: {exc}", error_code="render_error")
    delivery.rendered_subject, delivery.rendered_text = "", rendered.stored_text
    callback = settings.TWILIO_STATUS_CALLBACK_URL or absolute_url("/webhooks/twilio/status/")
    return backend.send(
        WhatsAppMessage(
            to=delivery.to_address,
            kind=delivery.kind,
            body=rendered.text,
            content_sid=settings.TWILIO_CONTENT_SIDS.get(delivery.kind, ""),
            content_variables=variables,
            delivery_id=delivery.pk,
            status_callback=callback,
        )
    )


def record_outcome(*, delivery: Delivery, result: SendResult, now: datetime, outcomes: OutcomeBuffer) -> str:
    """Record one send attempt's outcome on a claimed row (in `outcomes`); return the status it ends in."""
    fields = {
        "provider_message_id": result.provider_message_id or delivery.provider_message_id,
        "error_code": result.error_code,
        "last_error": result.error,
        "rendered_subject": delivery.rendered_subject,
        "rendered_text": delivery.rendered_text,
    }
    detail = result.error
    if result.outcome is Outcome.SENT:
        status, fields["sent_at"], detail = (
            Status.SENT,
            now,
            f"Accepted by the provider ({result.provider_message_id}).",
        )
    elif result.outcome is Outcome.UNKNOWN:
        status = Status.UNKNOWN
    elif result.outcome is Outcome.TRANSIENT and delivery.attempts < settings.NOTIFICATIONS["MAX_ATTEMPTS"]:
        status = Status.PENDING
        delay = retry_delay(attempts=delivery.attempts, retry_after=result.retry_after)
        fields["next_attempt_at"] = now + delay
        detail = f"{result.error} Retrying in {int(delay.total_seconds())} s (attempt {delivery.attempts})."
    else:
        status = Status.FAILED
        if result.outcome is Outcome.TRANSIENT:
            detail = f"{result.error} Gave up after {delivery.attempts} attempts."
        if result.suppress:
            suppress_address(
                channel=delivery.channel,
                address=delivery.to_address,
                reason=Suppression.Reason.INVALID,
                detail=result.error,
            )
    outcomes.add(delivery, status=status, detail=detail, **fields)
    return status


def retry_delay(*, attempts: int, retry_after: float | None = None) -> timedelta:
    """Return the wait before the next attempt: exponential, capped, with jitter ("equal jitter").

    The delay for attempt n lies in [d/2, d] with d = base * 2**(n-1), so delays never shrink
    from one attempt to the next while workers that failed together spread out.
    """
    base = settings.NOTIFICATIONS["RETRY_BASE_SECONDS"]
    cap = settings.NOTIFICATIONS["RETRY_MAX_SECONDS"]
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    seconds = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        seconds = max(seconds, min(retry_after, cap))
    return timedelta(seconds=seconds)


def suppress_address(*, channel: str, address: str, reason: str, category: str = "", detail: str = "") -> Suppression:
    """Add (or keep) a suppression for `address` on `channel`; return it."""
    address = address.lower() if channel == Channel.EMAIL else address
    suppression, _ = Suppression.objects.get_or_create(
        channel=channel, address=address, category=category, defaults={"reason": reason, "detail": detail[:2000]}
    )
    return suppression


def _stale_reason(delivery: Delivery, now: datetime) -> str:
    if delivery.expires_at and delivery.expires_at <= now:
        return "expired"
    return ""


def _blocked_reasons(deliveries: list[Delivery]) -> dict[int, str]:
    """Return, for the rows that must not go out, why: a few queries per batch, none per row."""
    reasons: dict[int, str] = {}
    suppressed = {
        (channel, address, category): reason
        for channel, address, category, reason in Suppression.objects.filter(
            channel__in={d.channel for d in deliveries}, address__in={d.to_address for d in deliveries}
        ).values_list("channel", "address", "category", "reason")
    }

    user_ids = {d.recipient_id for d in deliveries if d.recipient_id}
    opted_out = set(
        NotificationPreference.objects.filter(user_id__in=user_ids, enabled=False).values_list(
            "user_id", "topic", "channel"
        )
    )
    users = get_user_model().objects.in_bulk(user_ids) if user_ids else {}

    for kind_name in {d.kind for d in deliveries}:
        kind = get_kind(kind_name)
        if kind.still_wanted:
            unwanted = import_string(kind.still_wanted)([d for d in deliveries if d.kind == kind_name])
            reasons.update({pk: f"cancelled_{reason}" for pk, reason in unwanted.items()})

    for delivery in deliveries:
        if delivery.pk in reasons:
            continue
        kind = get_kind(delivery.kind)
        for category in ("", kind.category):
            reason = suppressed.get((delivery.channel, delivery.to_address, category))
            if reason:
                reasons[delivery.pk] = f"suppressed_{reason}"
                break
        else:
            if kind.can_opt_out and (delivery.recipient_id, kind.topic, delivery.channel) in opted_out:
                reasons[delivery.pk] = "opted_out"
            elif delivery.channel == Channel.WHATSAPP:
                user = users.get(delivery.recipient_id)
                if user is not None and not getattr(user, "whatsapp_opt_in", False):
                    reasons[delivery.pk] = "whatsapp_not_opted_in"
                elif not is_valid_e164(delivery.to_address):
                    reasons[delivery.pk] = "whatsapp_invalid_number"
    return reasons
