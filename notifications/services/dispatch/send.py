"""
Sending: a claimed batch goes out request by request (up to EMAILS_PER_REQUEST emails in one
Postmark batch, one WhatsApp message each). For every request, at the real time it goes out:
gate (still wanted?), render, hand over, send, record.

Up to DISPATCH_CONCURRENCY requests are in flight at once: the provider calls run in a small
thread pool, each thread with its own channel (its own HTTP connection), while this thread does
everything that touches the ledger: the gate, rendering and the hand-over just before a request
is given to a free thread, and recording each answer as it comes back. A request is handed over
only when a thread is free to send it at once, so `handed_over_at` still marks the moment it went
out, and a worker that dies leaves `unknown` only the messages of the requests it had in flight.
A per-channel rate (RATE_LIMITS, messages a second: pacing.py, shared by every worker through
Redis: ratelimit.py) spaces requests out for providers that cap it, urgent requests first.
"""

import contextlib
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections
from django.utils import timezone

from ...channels import postmark
from ...channels.base import Outcome, SendResult
from ...channels.email import EmailChannel
from ...channels.whatsapp import get_whatsapp_backend
from ...conf import conf
from ...copy import published as published_copy
from ...kinds import get_kind
from ...models import Channel, ChannelPause, Delivery
from ..pauses import pause_channel, resume_channel
from .claim import LeaseKeeper, give_back, hand_over
from .gate import stopped_deliveries
from .pacing import Pace, rate_limits
from .ratelimit import URGENT_MAX_PRIORITY, add_outcomes
from .record import OutcomeBuffer, record_outcome
from .render import email_for, whatsapp_for

logger = logging.getLogger(__name__)
Status = Delivery.Status
Clock = Callable[[], datetime]


@dataclass
class DispatchResult:
    outcomes: Counter = field(default_factory=Counter)  # by final status of this attempt
    reasons: Counter = field(default_factory=Counter)  # suppressed/expired/failed, by reason
    requeued: int = 0  # claims of stopped workers, never handed over, put back in the queue
    by_channel: Counter = field(default_factory=Counter)  # (channel, status) -> n, for the metrics

    @property
    def sent(self) -> int:
        return self.outcomes[Status.SENT]

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values())


class Channels:
    """The channels of one sending thread, each opened on first use and closed with the batch."""

    def __init__(self, stack: contextlib.ExitStack):
        self.stack = stack
        self._email = self._whatsapp = None

    @property
    def email(self) -> EmailChannel:
        if self._email is None:
            self._email = self.stack.enter_context(EmailChannel())
        return self._email

    @property
    def whatsapp(self):
        if self._whatsapp is None:
            self._whatsapp = self.stack.enter_context(get_whatsapp_backend())
        return self._whatsapp


class Senders:
    """Provider calls, up to a channel's DISPATCH_CONCURRENCY in flight: a pool of threads, each with
    channels of its own (a connection is never shared between threads), all closed when the batch
    ends. A channel whose concurrency is 1 sends in this thread, one request at a time."""

    def __init__(self, stack: contextlib.ExitStack, *, concurrency: dict[str, int]):
        self.concurrency = {channel: max(1, int(concurrency.get(channel) or 1)) for channel in Channel.values}
        self.most = max(self.concurrency.values())
        self.here = Channels(stack)
        self.local = threading.local()
        self.opened: list[contextlib.ExitStack] = []
        self.lock = threading.Lock()
        self.synced_templates = None  # WhatsApp's, read once in this thread for every sending thread
        self.pool = None
        if self.most > 1:
            stack.callback(self._close)  # after the pool has finished (entered next, so exited first)
            self.pool = stack.enter_context(ThreadPoolExecutor(self.most, thread_name_prefix="dispatch-send"))

    def submit(self, channel: str, messages: list, *, moments: list, clock: Clock) -> Future:
        if self.pool is None or self.concurrency[channel] == 1:
            future = Future()
            try:
                future.set_result(_send_with(self.here, channel, messages, moments=moments, clock=clock))
            except Exception as exc:
                future.set_exception(exc)
            return future
        if channel == Channel.WHATSAPP and self.synced_templates is None:
            # Everything a send reads from the database is read here, in the thread that owns the
            # batch's connection: a sending thread only talks HTTP (no connection of its own, and
            # nothing it needs is hidden in this thread's uncommitted work).
            read = getattr(self.here.whatsapp, "synced_templates", None)  # a backend may keep none
            self.synced_templates = read() if read else {}
        return self.pool.submit(self._send, channel, messages, moments=moments, clock=clock)

    def _send(self, channel: str, messages: list, *, moments: list, clock: Clock) -> list[SendResult]:
        channels = getattr(self.local, "channels", None)
        if channels is None:
            own = contextlib.ExitStack()
            with self.lock:
                self.opened.append(own)
            channels = self.local.channels = Channels(own)
        if channel == Channel.WHATSAPP and hasattr(channels.whatsapp, "use_synced_templates"):
            channels.whatsapp.use_synced_templates(self.synced_templates)
        try:
            return _send_with(channels, channel, messages, moments=moments, clock=clock)
        finally:
            # A backend that read the database opened a connection in this thread: close it, or it
            # would outlive the pool.
            if any(conn.connection is not None for conn in connections.all(initialized_only=True)):
                connections.close_all()

    def _close(self) -> None:
        for own in self.opened:
            try:
                own.close()
            except Exception:
                logger.exception("Closing a channel failed")


# A message whose moment passed while the messages before it in its request were being sent.
TOO_LATE = SendResult(
    Outcome.PERMANENT,
    error="Its moment passed while the messages before it in the request went out; not sent.",
    error_code="expired",
)


def _send_with(channels: Channels, channel: str, messages: list, *, moments: list, clock: Clock) -> list[SendResult]:
    """Send one request's messages. A backend that sends them one by one checks each message's
    moment (`moments`, its expiry or None) just before that message goes."""
    if channel == Channel.EMAIL and len(messages) > 1 and postmark.can_batch(channels.email.connection):
        return channels.email.send_many(messages)  # one request, cut to end in time (Pace)
    send = channels.email.send if channel == Channel.EMAIL else channels.whatsapp.send
    return [
        TOO_LATE if moment is not None and clock() >= moment else send(message)
        for message, moment in zip(messages, moments, strict=True)
    ]


def send_claimed_deliveries(
    *,
    deliveries: list[Delivery],
    result: DispatchResult,
    now: datetime | None = None,
    clock: Clock | None = None,
    deadline: float | None = None,
) -> None:
    """Send deliveries this worker has claimed and record each outcome (at the real time of each
    step, unless a fixed `now` is given for a test or a dry run). Past `deadline` (time.monotonic())
    the rows not yet sent go back to the queue, so a run ends on time behind a slow provider."""
    clock = clock or fixed_or_real_clock(now)
    with contextlib.ExitStack() as stack:
        if clock is timezone.now:  # a live worker keeps its leases (a test's stopped clock plays dead)
            stack.enter_context(LeaseKeeper()).hold(deliveries)
        before = Counter(result.by_channel)
        stack.callback(lambda: add_outcomes(result.by_channel - before))  # every worker's counters (metrics)
        _send_all(deliveries, result=result, clock=clock, deadline=deadline, stack=stack)


def _send_all(
    deliveries: list[Delivery], *, result: DispatchResult, clock: Clock, deadline: float | None, stack
) -> None:
    outcomes = OutcomeBuffer(clock=clock)
    stack.enter_context(published_copy.for_batch())  # staff templates: looked up once per batch
    stack.callback(outcomes.flush)  # runs last, even when sending or closing a channel failed
    senders = Senders(stack, concurrency=conf.dispatch_concurrency)
    limits = rate_limits()
    requests = deque(_requests(deliveries))
    pauses = Pauses()
    pace = Pace()
    in_flight: deque[InFlight] = deque()

    # One request at a time on a channel until one of its messages is accepted in this batch: an
    # account that cannot send (paused on its first refusal) costs one request, not a volley.
    proven: set[str] = set()

    def settle(flight: "InFlight") -> None:
        answers = flight.answers()
        pace.took(flight.channel, started=flight.started, messages=len(flight.ready))
        for (delivery, _), answer in zip(flight.ready, answers, strict=True):
            _record(delivery, answer, outcomes=outcomes, result=result, clock=clock, pauses=pauses)
            if answer.outcome is Outcome.SENT:
                proven.add(flight.channel)

    try:
        while requests:
            request = requests.popleft()
            # A request is prepared and handed over only when a thread can send it at once.
            channel = request[0].channel
            while in_flight and sum(f.channel == channel for f in in_flight) >= (
                senders.concurrency[channel] if channel in proven else 1
            ):
                settle(in_flight.popleft())
            while in_flight and in_flight[0].future.done():
                settle(in_flight.popleft())
            outcomes.flush_if_due()
            if deadline is not None and time.monotonic() >= deadline:
                rest = [delivery for later in (request, *requests) for delivery in later]
                result.requeued += give_back(deliveries=rest, now=clock())
                break
            if channel in pauses.until:  # its account stopped sending during this batch
                result.requeued += give_back(deliveries=request, now=clock())
                continue
            request = _in_time(request, pace=pace, outcomes=outcomes, result=result, clock=clock)
            fits = pace.fits(request, now=clock())
            if fits < len(request):  # the rest would end after the earliest moment in it: a request of its own
                request, later = request[:fits], request[fits:]
                requests.appendleft(later)
            if not request:
                continue
            limits[channel].wait(len(request), urgent=request[0].priority <= URGENT_MAX_PRIORITY)
            flight = _send_request(
                request, senders=senders, outcomes=outcomes, result=result, clock=clock, pauses=pauses
            )
            if flight:
                in_flight.append(flight)
    finally:
        while in_flight:  # every request that went out is recorded, whatever happened after it
            settle(in_flight.popleft())


def _in_time(request: list[Delivery], *, pace: "Pace", outcomes: OutcomeBuffer, result: DispatchResult, clock) -> list:
    """Return the request without the messages that the provider, at its pace, would take only after
    their moment (those end `expired` now)."""
    late = pace.too_late(request, now=clock())
    for delivery in late:
        outcomes.add(delivery, status=Status.EXPIRED, detail="At the provider's pace it would go out after its moment.")
        result.outcomes[Status.EXPIRED] += 1
        result.reasons["expired"] += 1
    return [delivery for delivery in request if delivery not in late] if late else request


@dataclass
class InFlight:
    """A provider request on its way: the rows it carries (with their messages) and its answers."""

    channel: str
    ready: list[tuple[Delivery, object]]
    future: Future
    started: float = field(default_factory=time.monotonic)

    def answers(self) -> list[SendResult]:
        try:
            return self.future.result()
        except Exception as exc:  # a channel that raised: each message of the request is in doubt
            logger.exception("A provider request failed unexpectedly")
            return [SendResult(Outcome.UNKNOWN, error=f"The request failed: {exc}")] * len(self.ready)


class Pauses:
    """The channels paused before this batch (a success lifts theirs) and those paused during it."""

    def __init__(self):
        # Each paused channel's next try as this batch found it: a pause renewed meanwhile (a status
        # webhook said a message accepted in this batch failed for the account) is not lifted.
        self.before = dict(ChannelPause.objects.values_list("channel", "until"))
        self.until: dict[str, datetime] = {}

    def heard(self, channel: str, answer: SendResult, *, now: datetime) -> datetime | None:
        """Take a provider's answer into account; return until when the channel is paused, if it is."""
        if answer.account and channel not in self.until:
            pause = pause_channel(channel=channel, reason=answer.error, error_code=answer.error_code, now=now)
            self.until[channel] = pause.until
        elif answer.outcome is Outcome.SENT and channel in self.before:
            resume_channel(channel=channel, until=self.before.pop(channel))
        return self.until.get(channel)


def fixed_or_real_clock(now: datetime | None) -> Clock:
    """Return a clock: the real one, or one stopped at `now` (tests, dry runs, --now)."""
    if now is None:
        return timezone.now
    return lambda: now


def _requests(deliveries: list[Delivery]) -> Iterator[list[Delivery]]:
    """Group a batch into provider requests: emails up to EMAILS_PER_REQUEST together, WhatsApp alone.

    Marketing and transactional emails never share a request: they go through different streams
    (Postmark's rules keep bulk mail out of transactional streams).
    """
    per_request = conf.emails_per_request
    emails: dict[bool, list[Delivery]] = {False: [], True: []}
    for delivery in deliveries:
        if delivery.channel != Channel.EMAIL:
            yield [delivery]
            continue
        marketing = get_kind(delivery.kind).is_marketing
        emails[marketing].append(delivery)
        if len(emails[marketing]) >= per_request:
            yield emails[marketing]
            emails[marketing] = []
    yield from (waiting for waiting in emails.values() if waiting)


def _record(
    delivery: Delivery, outcome: SendResult, *, outcomes: OutcomeBuffer, result: DispatchResult, clock: Clock, pauses
) -> None:
    if outcome is TOO_LATE:
        outcomes.add(delivery, status=Status.EXPIRED, detail=outcome.error)
        result.outcomes[Status.EXPIRED] += 1
        result.reasons["expired"] += 1
        return
    paused_until = pauses.heard(delivery.channel, outcome, now=clock())
    status = record_outcome(
        delivery=delivery, result=outcome, now=clock(), outcomes=outcomes, paused_until=paused_until
    )
    result.outcomes[status] += 1
    result.by_channel[(delivery.channel, str(status))] += 1
    if status in (Status.FAILED, Status.UNKNOWN):
        result.reasons[outcome.error_code or "error"] += 1


def _send_request(
    request: list[Delivery],
    *,
    senders: Senders,
    outcomes: OutcomeBuffer,
    result: DispatchResult,
    clock: Clock,
    pauses: "Pauses",
) -> InFlight | None:
    """Gate, render and hand over one request, and give it to a sending thread; return it in flight
    (None when nothing of it is left to send)."""
    stopped = stopped_deliveries(request, now=clock())
    for delivery in request:
        verdict = stopped.get(delivery.pk)
        if verdict:
            outcomes.add(delivery, status=verdict.status, detail=verdict.reason)
            result.outcomes[verdict.status] += 1
            result.reasons[verdict.reason] += 1

    render = email_for if request[0].channel == Channel.EMAIL else whatsapp_for
    ready = []
    for delivery in request:
        if delivery.pk in stopped:
            continue
        message = render(delivery)
        if isinstance(message, SendResult):
            _record(delivery, message, outcomes=outcomes, result=result, clock=clock, pauses=pauses)
        else:
            ready.append((delivery, message))
    if not ready:
        return None

    held = {d.pk for d in hand_over(deliveries=[d for d, _ in ready], now=clock())}
    ready = [(d, message) for d, message in ready if d.pk in held]
    if not ready:
        return None
    channel = request[0].channel
    messages, moments = [message for _, message in ready], [delivery.expiry for delivery, _ in ready]
    return InFlight(channel, ready, senders.submit(channel, messages, moments=moments, clock=clock))
