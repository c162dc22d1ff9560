"""
Dispatch: claim due deliveries, send them, record each outcome. Many workers may run at once.

The life cycle (shared/DESIGN.md): pending -> sending -> sent | pending (retry) | failed |
unknown; suppressed, cancelled and expired without a provider call. The steps, one module each:

- `claim`: take due rows in one short transaction; hand them over just before their request;
  give back what a stopped worker left (`unknown` only if it was inside a request).
- `gate`: at the moment each request goes out, is every message in it still wanted?
- `render`: the message from the row's stored context.
- `send`: request by request, with the channels' lifetimes in one ExitStack.
- `record`: each outcome, only while the row is still `sending` under this claim.

Every step takes the real time when it happens; a `now` given by a test, a dry run or `--now`
stops the clock there.
"""

import time
from datetime import datetime

from ...conf import conf
from ...models import Delivery
from .claim import LeaseKeeper, Released, claim_due_deliveries, give_back, hand_over, release_expired_claims
from .gate import Verdict, stopped_deliveries
from .record import OutcomeBuffer, apply_early_reports, record_outcome, retry_delay, suppress_address
from .send import DispatchResult, fixed_or_real_clock, send_claimed_deliveries

__all__ = [
    "DispatchResult",
    "LeaseKeeper",
    "OutcomeBuffer",
    "Released",
    "Verdict",
    "apply_early_reports",
    "claim_due_deliveries",
    "dispatch_deliveries",
    "dispatch_due_deliveries",
    "give_back",
    "hand_over",
    "record_outcome",
    "release_expired_claims",
    "retry_delay",
    "send_claimed_deliveries",
    "stopped_deliveries",
    "suppress_address",
]


def dispatch_due_deliveries(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    max_seconds: float | None = None,
) -> DispatchResult:
    """Send every delivery that is due (for at most `max_seconds`: then what is claimed but not yet
    sent goes back to the queue); return the outcomes by status."""
    clock = fixed_or_real_clock(now)
    batch_size = batch_size or conf.dispatch_batch_size
    result = DispatchResult()
    released = release_expired_claims(now=clock())
    result.outcomes[Delivery.Status.UNKNOWN] += released.unknown
    result.requeued = released.requeued
    deadline = time.monotonic() + max_seconds if max_seconds else None
    batches = 0
    while max_batches is None or batches < max_batches:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if batches:  # a long run gives back dead workers' claims as it goes, not only when it starts
            released = release_expired_claims(now=clock())
            result.outcomes[Delivery.Status.UNKNOWN] += released.unknown
            result.requeued += released.requeued
        claimed = claim_due_deliveries(now=clock(), limit=batch_size)
        if not claimed:
            break
        send_claimed_deliveries(deliveries=claimed, result=result, clock=clock, deadline=deadline)
        batches += 1
    return result


def dispatch_deliveries(*, ids: list[int], now: datetime | None = None) -> DispatchResult:
    """Send these deliveries now if they are still pending (e.g. a welcome email right after commit)."""
    clock = fixed_or_real_clock(now)
    result = DispatchResult()
    claimed = claim_due_deliveries(now=clock(), limit=len(ids), ids=ids) if ids else []
    if claimed:
        send_claimed_deliveries(deliveries=claimed, result=result, clock=clock)
    return result
