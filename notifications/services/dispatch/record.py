"""
Recording: what became of each claimed row, written only while it is still `sending` under the
same claim, so a slow worker never overwrites another's result.
"""

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import F

from ...channels.base import Outcome, SendResult
from ...conf import conf
from ...kinds import get_kind
from ...models import Channel, Delivery, DeliveryEvent, Suppression
from ..costs import whatsapp_category, whatsapp_cost
from ..ledger import ClaimOutcome, record_claim_outcomes

logger = logging.getLogger(__name__)
Status = Delivery.Status
# How far along a delivery is; an event only ever moves it to a higher rank.
RANK = {
    Status.PENDING: 0,
    Status.SENDING: 0,
    Status.UNKNOWN: 0,
    Status.EXPIRED: 0,
    Status.CANCELLED: 0,
    Status.SUPPRESSED: 0,
    Status.FOLDED: 0,  # the attention budget's: never sent on their own
    Status.DIGESTED: 0,
    Status.SENT: 1,
    Status.DELIVERED: 2,
    Status.OPENED: 3,
    Status.CLICKED: 4,
    Status.FAILED: 5,
    Status.BOUNCED: 6,
    Status.COMPLAINED: 7,
}
TIMESTAMPS = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.OPENED: "opened_at",
    Status.CLICKED: "clicked_at",
}
# Statuses only a provider reports (by webhook or callback); a report that arrived while the row
# was still being sent is applied once the worker has recorded it as sent.
_PROVIDER_REPORTS = (
    Status.DELIVERED,
    Status.OPENED,
    Status.CLICKED,
    Status.FAILED,
    Status.BOUNCED,
    Status.COMPLAINED,
)


class OutcomeBuffer:
    """Outcomes of a batch, written together (two statements) within about a second of each send.

    Written per message, an outcome cost an UPDATE and an INSERT, more than the send itself.
    Held longer, a crash would leave more rows to become `unknown` when their lease ends.
    """

    MAX_SECONDS = 1.0

    def __init__(self, *, clock: Callable[[], datetime]):
        self.clock = clock
        self.pending: list[ClaimOutcome] = []
        self.since = 0.0
        # Failures that count towards suppressing their address (Meta 131026), by delivery id:
        # counted once their history entry is written.
        self.counted: dict[int, dict] = {}

    def add(self, delivery: Delivery, *, status: str, detail: str, **fields) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(
            ClaimOutcome(
                delivery_id=delivery.pk,
                claim_token=delivery.claim_token,
                status=status,
                detail=detail,
                at=self.clock(),
                **fields,
            )
        )

    def flush_if_due(self) -> None:
        if self.pending and time.monotonic() - self.since >= self.MAX_SECONDS:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        counted, self.counted = self.counted, {}
        if not pending:
            return
        recorded = record_claim_outcomes(outcomes=pending, now=self.clock())
        for delivery_id, failure in counted.items():
            if delivery_id in recorded:
                suppress_at_limit(**failure)
        for outcome in pending:
            if outcome.delivery_id not in recorded:
                logger.warning(
                    "Delivery %s was settled by someone else while being sent; kept their result.", outcome.delivery_id
                )
        apply_early_reports(
            ids=[o.delivery_id for o in pending if o.delivery_id in recorded and o.status == Status.SENT]
        )


def record_outcome(
    *,
    delivery: Delivery,
    result: SendResult,
    now: datetime,
    outcomes: OutcomeBuffer,
    paused_until: datetime | None = None,
) -> str:
    """Record one send attempt's outcome on a claimed row (in `outcomes`); return the status it ends in.

    `now` is when the provider answered: a retry is due a delay after it, never before.
    """
    fields = {
        "provider_message_id": result.provider_message_id or delivery.provider_message_id,
        "error_code": result.error_code,
        "last_error": result.error,
        "rendered_subject": delivery.rendered_subject,
        "rendered_text": delivery.rendered_text,
        "template_version_id": delivery.template_version_id,
    }
    detail = result.error
    if result.account:
        # Nothing wrong with this message: the channel cannot send (the provider account, or a
        # provider that cannot be reached or answers nothing sensible at its address). It waits for
        # the channel's next try, and the attempt does not count.
        status = Status.PENDING
        fields["next_attempt_at"] = paused_until or now + retry_delay(attempts=1, retry_after=result.retry_after)
        fields["attempts"] = max(0, delivery.attempts - 1)
        detail = f"{result.error} The provider cannot take messages now: {delivery.channel} is paused, nothing failed."
        outcomes.add(delivery, status=status, detail=detail, **fields)
        return status
    if result.outcome is Outcome.SENT:
        status, fields["sent_at"] = Status.SENT, now
        if delivery.channel == Channel.WHATSAPP:
            category = whatsapp_category(get_kind(delivery.kind))
            fields["whatsapp_category"], fields["cost"] = category, whatsapp_cost(category)
        detail = f"Accepted by the provider ({result.provider_message_id})."
    elif result.outcome is Outcome.UNKNOWN:
        status = Status.UNKNOWN
    elif result.outcome is Outcome.TRANSIENT and delivery.attempts < conf.max_attempts:
        status = Status.PENDING
        delay = retry_delay(attempts=delivery.attempts, retry_after=result.retry_after)
        fields["next_attempt_at"] = now + delay
        detail = f"{result.error} Retrying in {int(delay.total_seconds())} s (attempt {delivery.attempts})."
    else:
        status = Status.FAILED
        if result.outcome is Outcome.TRANSIENT:
            detail = f"{result.error} Gave up after {delivery.attempts} attempts."
        if result.suppress_at_limit:  # as when the same failure arrives by webhook (feedback)
            outcomes.counted[delivery.pk] = {
                "channel": delivery.channel,
                "address": delivery.to_address,
                "error_code": result.error_code,
                "detail": result.error,
            }
        elif result.suppress:
            suppress_address(
                channel=delivery.channel,
                address=delivery.to_address,
                reason=Suppression.Reason.INVALID,
                detail=result.error,
            )
        elif result.suppress_category:  # the person stopped one category (Meta: marketing) at the provider
            suppress_address(
                channel=delivery.channel,
                address=delivery.to_address,
                reason=Suppression.Reason.OPTED_OUT,
                category=result.suppress_category,
                detail=result.error,
            )
    outcomes.add(delivery, status=status, detail=detail, **fields)
    return status


def retry_delay(*, attempts: int, retry_after: float | None = None) -> timedelta:
    """Return the wait before the next attempt: exponential, capped, with jitter ("equal jitter").

    The delay for attempt n lies in [d/2, d] with d = base * 2**(n-1), so delays never shrink
    from one attempt to the next while workers that failed together spread out.
    """
    base = conf.retry_base_seconds
    cap = conf.retry_max_seconds
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


def suppress_at_limit(*, channel: str, address: str, error_code: str, detail: str) -> Suppression | None:
    """Suppress `address` for every category once it has failed with `error_code` SOFT_BOUNCE_LIMIT
    times (Meta 131026, which has temporary causes), whether each failure came in a send's answer
    or a status webhook; return the suppression, or None while under the limit."""
    limit = conf.soft_bounce_limit
    # Each failure is one history entry, "... error 131026: ..." in either path's words.
    times = DeliveryEvent.objects.filter(
        delivery__channel=channel,
        delivery__to_address=address,
        status=Status.FAILED,
        detail__contains=f"error {error_code}",
    ).count()
    if times < limit:
        return None
    return suppress_address(
        channel=channel,
        address=address,
        reason=Suppression.Reason.INVALID,
        detail=f"Failed {times} times with error {error_code}: {detail}",
    )


def apply_early_reports(*, ids: list[int]) -> int:
    """Apply provider reports that arrived while these rows were still being sent (a status
    callback faster than the worker's record); return how many rows moved on."""
    if not ids:
        return 0

    reports: dict[int, DeliveryEvent] = {}
    for event in DeliveryEvent.objects.filter(
        delivery_id__in=ids, status__in=_PROVIDER_REPORTS, at__gte=F("delivery__handed_over_at")
    ).order_by("at", "id"):
        best = reports.get(event.delivery_id)
        if best is None or RANK[event.status] > RANK[best.status]:
            reports[event.delivery_id] = event
    moved = 0
    for delivery_id, event in reports.items():
        updates = {"status": event.status}
        field = TIMESTAMPS.get(event.status)
        if field:
            updates[field] = event.at
        if event.status in (Status.FAILED, Status.BOUNCED, Status.COMPLAINED):
            updates["last_error"] = event.detail[:2000]
        moved += Delivery.objects.filter(pk=delivery_id, status=Status.SENT).update(**updates)
    return moved
