"""
Sending: a claimed batch goes out request by request (up to EMAILS_PER_REQUEST emails in one
Postmark batch, one WhatsApp message each). For every request, at the real time it goes out:
gate (still wanted?), render, hand over, send, record.
"""

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from ...channels.base import Outcome, SendResult
from ...channels.email import EmailChannel
from ...channels.whatsapp import get_whatsapp_backend
from ...copy import published as published_copy
from ...kinds import get_kind
from ...models import Channel, ChannelPause, Delivery
from ..pauses import pause_channel, resume_channel
from .claim import give_back, hand_over
from .gate import stopped_deliveries
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

    @property
    def sent(self) -> int:
        return self.outcomes[Status.SENT]

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values())


class Channels:
    """The channels a batch uses, each opened on first use and closed with the batch."""

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
    outcomes = OutcomeBuffer(clock=clock)
    with contextlib.ExitStack() as stack:
        channels = Channels(stack)
        stack.enter_context(published_copy.for_batch())  # staff templates: looked up once per batch
        stack.callback(outcomes.flush)  # runs last, even when sending or closing a channel failed
        requests = list(_requests(deliveries))
        pauses = Pauses()
        for position, request in enumerate(requests):
            if deadline is not None and time.monotonic() >= deadline:
                rest = [delivery for later in requests[position:] for delivery in later]
                result.requeued += give_back(deliveries=rest, now=clock())
                break
            if request[0].channel in pauses.until:  # its account stopped sending during this batch
                result.requeued += give_back(deliveries=request, now=clock())
                continue
            _send_request(request, channels=channels, outcomes=outcomes, result=result, clock=clock, pauses=pauses)
            outcomes.flush_if_due()


class Pauses:
    """The channels paused before this batch (a success lifts theirs) and those paused during it."""

    def __init__(self):
        self.before = set(ChannelPause.objects.values_list("channel", flat=True))
        self.until: dict[str, datetime] = {}

    def heard(self, channel: str, answer: SendResult, *, now: datetime) -> datetime | None:
        """Take a provider's answer into account; return until when the channel is paused, if it is."""
        if answer.account and channel not in self.until:
            pause = pause_channel(channel=channel, reason=answer.error, error_code=answer.error_code, now=now)
            self.until[channel] = pause.until
        elif answer.outcome is Outcome.SENT and channel in self.before:
            resume_channel(channel=channel)
            self.before.discard(channel)
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
    per_request = settings.NOTIFICATIONS["EMAILS_PER_REQUEST"]
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


def _send_request(
    request: list[Delivery],
    *,
    channels: Channels,
    outcomes: OutcomeBuffer,
    result: DispatchResult,
    clock: Clock,
    pauses: Pauses,
) -> None:
    def record(delivery: Delivery, outcome: SendResult) -> None:
        paused_until = pauses.heard(delivery.channel, outcome, now=clock())
        status = record_outcome(
            delivery=delivery, result=outcome, now=clock(), outcomes=outcomes, paused_until=paused_until
        )
        result.outcomes[status] += 1
        if status in (Status.FAILED, Status.UNKNOWN):
            result.reasons[outcome.error_code or "error"] += 1

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
            record(delivery, message)
        else:
            ready.append((delivery, message))
    if not ready:
        return

    held = {d.pk for d in hand_over(deliveries=[d for d, _ in ready], now=clock())}
    ready = [(d, message) for d, message in ready if d.pk in held]
    if not ready:
        return
    if request[0].channel == Channel.EMAIL:
        answers = channels.email.send_many([message for _, message in ready])
    else:
        answers = [channels.whatsapp.send(message) for _, message in ready]
    for (delivery, _), answer in zip(ready, answers, strict=True):
        record(delivery, answer)
