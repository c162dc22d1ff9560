"""
Claims: take due rows for this worker, hand them to the provider, and give back what a dead
worker left behind.

A claim is one short transaction (`sending`, a claim token, the claim time). Just before each
provider request the rows it carries are handed over (`handed_over_at`), a compare-and-set on
the claim: a row whose lease ran out and was given to another worker meanwhile is not sent by
this one. When a lease runs out, only rows that were handed over may have reached the provider
(they become `unknown`); the others go back to `pending`.

A lease is short (SENDING_LEASE_SECONDS, 40 s) and renewed while its worker lives: a thread of
the worker's own (`LeaseKeeper`) moves the claim time of every row it still holds forward every
quarter lease. A live worker behind a slow provider keeps its rows however long its batch takes;
a dead one's rows are free within a lease (the same thread gives back other workers' dead claims
as it beats), not after a whole batch's worth of time.
"""

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from common.db import update_returning_ids

from ...conf import conf
from ...models import Delivery, DeliveryEvent, MessageEvent, MessageGroup
from ..attention import apply_attention_budget
from ..pauses import paused_channels
from .limits import new_recipients_left, over_limit, within_limit

logger = logging.getLogger(__name__)
Status = Delivery.Status


def claim_due_deliveries(*, now: datetime, limit: int, ids: list[int] | None = None) -> list[Delivery]:
    """Claim up to `limit` due rows (of `ids`, when given) in one short transaction; return them."""
    token = uuid.uuid4()
    due = Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
    paused = paused_channels(now=now)
    if paused:  # their provider account cannot send: leave them until the channel's next try
        due = due.exclude(channel__in=paused)
    left = new_recipients_left(now=now)  # Meta's daily limit of unique WhatsApp recipients
    due = within_limit(due, left=left, now=now)
    if ids is not None:
        due = due.filter(id__any=ids)
    with transaction.atomic():
        claimed = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .order_by("priority", "next_attempt_at", "id")  # urgent kinds first (Delivery.priority)
            .values_list("id", flat=True)[:limit]
        )
        if not claimed:
            return []
        Delivery.objects.filter(id__any=claimed).update(
            status=Status.SENDING,
            claimed_at=now,
            claim_token=token,
            handed_over_at=None,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    rows = list(
        Delivery.objects.filter(id__any=claimed, claim_token=token)
        .select_related("recipient")  # the name and language rendering reads
        .order_by("priority", "next_attempt_at", "id")
    )
    share_events_and_groups(rows)
    # The attention budget (services/attention.py): a row in its recipient's quiet hours goes back to
    # the queue due when they end, one past the day's cap is folded into the digest; two queries per
    # claim, none per row, each decision on the row's history.
    rows = apply_attention_budget(rows, now=now)
    held = over_limit(rows, left=left, now=now)
    if held:  # the limit has room for fewer new numbers than this claim holds: the rest wait
        give_back(deliveries=held, now=now)
        rows = [row for row in rows if row not in held]
    return rows


def share_events_and_groups(rows: list[Delivery]) -> None:
    """Give the rows their events (the kind, the subject) and groups (the shared context): one
    instance of each, read once, for all its rows. A blast's rows share one event and a few groups,
    whose context would otherwise be read, parsed and built again for each row."""
    events = {event.pk: event for event in MessageEvent.objects.filter(pk__any={row.event_id for row in rows})}
    group_ids = {row.group_id for row in rows if row.group_id is not None}
    groups = {group.pk: group for group in MessageGroup.objects.filter(pk__any=group_ids)}
    event_field, group_field = Delivery._meta.get_field("event"), Delivery._meta.get_field("group")
    for row in rows:
        if row.event_id in events:
            event_field.set_cached_value(row, events[row.event_id])
        if row.group_id in groups:
            group_field.set_cached_value(row, groups[row.group_id])


def hand_over(*, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
    """Mark `deliveries` as inside a provider request that goes out now; return those this worker
    still holds (a row whose lease ran out and was released or claimed again is not sent)."""
    held = set()
    for token in {d.claim_token for d in deliveries}:  # one, unless the request mixes claims
        # The claim token and the status are checked on each row as the update finds it: a row
        # claimed again by another worker meanwhile is not handed over by this one.
        handed = update_returning_ids(
            Delivery.objects.filter(id__any=[d.pk for d in deliveries if d.claim_token == token]),
            guard={"claim_token": token, "status": Status.SENDING},
            handed_over_at=now,
            claimed_at=now,
        )
        held.update((pk, token) for pk in handed)
    kept = [d for d in deliveries if (d.pk, d.claim_token) in held]
    for delivery in deliveries:
        if (delivery.pk, delivery.claim_token) not in held:
            logger.warning("Delivery %s is no longer held by this worker (lease ended); not sent.", delivery.pk)
        else:
            delivery.handed_over_at = now
    return kept


def give_back(*, deliveries: list[Delivery], now: datetime) -> int:
    """Return claimed rows this worker will not send (its run is over) to the queue, due as they
    were; return how many. Never handed over, they cost no attempt."""
    if not deliveries:
        return 0
    returned = 0
    for token in {d.claim_token for d in deliveries}:
        returned += Delivery.objects.filter(
            id__any=[d.pk for d in deliveries if d.claim_token == token],
            claim_token=token,
            status=Status.SENDING,
            handed_over_at__isnull=True,
        ).update(status=Status.PENDING, claim_token=None, attempts=F("attempts") - 1, updated_at=now)
    return returned


@dataclass(frozen=True)
class Released:
    unknown: int = 0  # were inside a provider request: may or may not have gone out
    requeued: int = 0  # never handed over: back to pending


def release_expired_claims(*, now: datetime) -> Released:
    """Settle rows left in `sending` past their lease: `unknown` when they were handed to the
    provider, back to `pending` when they never were."""
    lease = timedelta(seconds=conf.sending_lease_seconds)
    with transaction.atomic():
        stale = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SENDING, claimed_at__lt=now - lease)
            .values_list("id", "handed_over_at")
        )
        if not stale:
            return Released()
        in_request = [pk for pk, handed_over_at in stale if handed_over_at]
        never_sent = [pk for pk, handed_over_at in stale if not handed_over_at]
        Delivery.objects.filter(id__in=in_request, status=Status.SENDING).update(
            status=Status.UNKNOWN,
            last_error="The worker stopped while the provider had the request; it may or may not have the message.",
            updated_at=now,
        )
        # The attempt never happened: it does not count against the retry cap.
        Delivery.objects.filter(id__in=never_sent, status=Status.SENDING).update(
            status=Status.PENDING,
            next_attempt_at=now,
            claim_token=None,
            attempts=F("attempts") - 1,
            updated_at=now,
        )
        DeliveryEvent.objects.bulk_create(
            [
                *(
                    DeliveryEvent(
                        delivery_id=pk,
                        at=now,
                        status=Status.UNKNOWN,
                        detail="Sending lease expired during the request.",
                    )
                    for pk in in_request
                ),
                *(
                    DeliveryEvent(
                        delivery_id=pk,
                        at=now,
                        status=Status.PENDING,
                        detail="Sending lease expired before the message was handed to the provider; queued again.",
                    )
                    for pk in never_sent
                ),
            ]
        )
    if in_request:
        logger.warning(
            "%d deliveries were inside a provider request when their worker stopped: 'unknown'.", len(in_request)
        )
    if never_sent:
        logger.warning("%d deliveries claimed by a stopped worker were never sent: queued again.", len(never_sent))
    return Released(unknown=len(in_request), requeued=len(never_sent))


class LeaseKeeper:
    """Renew the leases of this worker's claims from a thread of its own while the block runs, and
    give back what dead workers left on the way (`with LeaseKeeper() as leases: leases.hold(rows)`)."""

    def __init__(self, *, every: float | None = None):
        lease = conf.sending_lease_seconds
        self.every = every if every is not None else max(0.5, lease / 4)
        self.tokens: set[uuid.UUID] = set()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="dispatch-lease", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)

    def hold(self, deliveries: list[Delivery]) -> None:
        """Keep the leases of these claimed rows while the block runs."""
        with self.lock:
            self.tokens.update(d.claim_token for d in deliveries if d.claim_token)

    def renew(self, *, now: datetime) -> int:
        """Move the claim time of the rows still held (`sending` under a held claim) to `now`."""
        with self.lock:
            tokens = list(self.tokens)
        if not tokens:
            return 0
        return Delivery.objects.filter(claim_token__in=tokens, status=Status.SENDING).update(claimed_at=now)

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(self.every):
                try:
                    self.renew(now=timezone.now())
                    release_expired_claims(now=timezone.now())
                except DatabaseError:  # a connection killed under us: a new one next beat
                    logger.warning("Renewing the sending leases failed; trying again.", exc_info=True)
                    connection.close()
        finally:
            connection.close()
