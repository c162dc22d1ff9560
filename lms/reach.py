"""
The reach ladder: every enrolled student who can be reached gets a session reminder *delivered*
(the provider's receipt: WhatsApp delivered or read, email delivered; in-app when seen) at least
REACH_MINUTES before the start.

The reminders (24 h, 1 h, starting soon) go on every channel as they always did; a student one of
them reached is done. For the others the ladder opens when the time left holds all its steps
(REACH_MINUTES + one REACH_WAIT_MINUTES per channel before the start), once no reminder is on its
way to them (not sent yet, or sent less than a wait ago: the 15-minute one), and tries REACH_LADDER's
channels in order among those the student can get ("sms" is skipped: no SMS provider): step n is
one "starting soon" message on one channel, keyed "<session key>:step<n>", so two decisions at
once make one row. The next step goes when a step fails, bounces or is suppressed (at once: a
provider's receipt sends delivery_status_changed), or when it was not delivered within its wait
(the minute job): REACH_WAIT_MINUTES, shorter when the time left asks, so that the steps after it
still land before the deadline. A receipt on any of the session's messages stops the ladder (no
lower step after a read) and cancels a step not yet sent; nothing is planned at or after the
start, and a step expires at the start. On a channel whose provider reports no receipts (no
tracking webhook secret, mock mode), a message sent counts as reached: without receipts the ladder
would send every step to everyone. The hold-out (lms.holdout) and students who said they
can't make it get no step. Every decision is on a row's history with its reason.
"""

import datetime as dt
import logging

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from notifications.api import (
    Channel,
    DeliveryChange,
    DeliveryStatus,
    PlanResult,
    cancel_waiting_steps,
    channels_with_receipts,
    delivery_status_changed,
    ladder_steps,
    note_delivery,
    plan_ladder_step,
    recipients_with_receipt,
    reminders_on_their_way,
)

from . import messages
from .conf import conf
from .holdout import held_out
from .models import Enrollment, LiveSession, SessionRsvp, User
from .reminders import SOON, plan_starting_soon, session_context
from .wanted import SESSION, session_event_key

logger = logging.getLogger(__name__)

STEP_KIND = messages.SESSION_15MIN.name  # "starting soon": critical, never held by the attention budget
REMINDERS = (messages.SESSION_24H.name, messages.SESSION_1H.name, messages.SESSION_15MIN.name)
PROVIDERS = {"whatsapp": Channel.WHATSAPP, "email": Channel.EMAIL}  # no SMS provider: "sms" is skipped
IN_FLIGHT = (DeliveryStatus.PENDING, DeliveryStatus.HELD, DeliveryStatus.SENDING)
STOPPED = (DeliveryStatus.FAILED, DeliveryStatus.BOUNCED, DeliveryStatus.COMPLAINED, DeliveryStatus.SUPPRESSED)


def ladder() -> list[str]:
    """The ladder's channels in order, those with a provider, each once."""
    channels = []
    for name in conf.reach_ladder:
        if name in PROVIDERS and PROVIDERS[name] not in channels:
            channels.append(PROVIDERS[name])
    return channels


def deadline(session: LiveSession) -> dt.datetime:
    return session.scheduled_at - dt.timedelta(minutes=conf.reach_minutes)


def opens_at(session: LiveSession) -> dt.datetime:
    """When the ladder starts for the students not reached yet: time for each step's wait before the deadline."""
    return deadline(session) - len(ladder()) * dt.timedelta(minutes=conf.reach_wait_minutes)


def wait_for(sent_at: dt.datetime, *, steps_after: int, session: LiveSession) -> dt.timedelta:
    """How long a step sent at `sent_at` may take to be delivered: REACH_WAIT_MINUTES, or the share
    of the time left to the deadline that leaves as much to each step after it (at least a minute)."""
    wait = dt.timedelta(minutes=conf.reach_wait_minutes)
    share = (deadline(session) - sent_at) / (steps_after + 1)
    return max(dt.timedelta(minutes=1), min(wait, share))


def _minutes(span: dt.timedelta) -> str:
    return (
        f"{span.total_seconds() / 60:.0f} min" if span >= dt.timedelta(minutes=1) else f"{span.total_seconds():.0f} s"
    )


def _usable(channel: str, user: dict) -> bool:
    if channel == Channel.WHATSAPP:
        return bool(user["whatsapp_opt_in"] and user["phone"])
    return bool(user["email"])


def run_reach_ladder(*, now: dt.datetime | None = None, dry_run: bool = False) -> PlanResult:
    """The minute job: the ladder's next steps for every session whose ladder is open and has not started."""
    now = now or timezone.now()
    result = PlanResult()
    span = dt.timedelta(minutes=conf.reach_minutes + len(ladder()) * conf.reach_wait_minutes)
    sessions = LiveSession.objects.filter(is_cancelled=False, scheduled_at__gt=now, scheduled_at__lte=now + span)
    for session in sessions.select_related("course").order_by("scheduled_at"):
        result.merge(escalate(session, now=now, dry_run=dry_run))
    return result


@transaction.atomic
def escalate(session: LiveSession, *, now: dt.datetime, students=None, dry_run: bool = False) -> PlanResult:
    """Decide the ladder's next step for the session's students (or only `students`); return what was planned."""
    result = PlanResult()
    if session.is_cancelled or now >= session.scheduled_at or now < opens_at(session) or not ladder():
        return result
    key = session_event_key(session)
    enrolled = Enrollment.objects.filter(course_id=session.course_id, is_active=True, student__is_active=True)
    if students is not None:
        enrolled = enrolled.filter(student_id__in=list(students))
    ids = set(enrolled.values_list("student_id", flat=True))
    said_no = set(
        SessionRsvp.objects.filter(session=session, student_id__in=ids, answer=SessionRsvp.Answer.NO).values_list(
            "student_id", flat=True
        )
    )
    ids = {student for student in ids - said_no if not held_out(student, session.course_id)}
    if not ids:
        return result
    blind = set(ladder()) - channels_with_receipts()  # no receipt comes back: a message sent there counts
    receipts = recipients_with_receipt(kinds=REMINDERS, event_key=key, recipients=ids, sent_counts_on=blind)
    steps = ladder_steps(kind=STEP_KIND, event_key=key, recipients=ids)
    for student, (channel, status, at) in receipts.items():
        if any(
            step.status in (DeliveryStatus.PENDING, DeliveryStatus.HELD) for step in steps.get(student, {}).values()
        ):
            reason = f"Reach ladder: not sent, the student was reached ({channel} {status} at {at:%H:%M:%S} UTC)."
            if not dry_run:
                cancel_waiting_steps(kind=STEP_KIND, event_key=key, recipient_id=student, reason=reason, now=now)
    waiting = ids - receipts.keys()
    users = {
        row["id"]: row
        for row in User.objects.filter(pk__in=waiting).values(
            "id", "email", "phone", "whatsapp_opt_in", "timezone", "locale"
        )
    }
    first_steps = [student for student in waiting if not steps.get(student)]
    if first_steps and now >= session.scheduled_at - SOON:
        # "Starting soon" is due: plan it first if its job has not yet (it runs every 5 minutes, or is
        # running in another process now), so no first step goes beside it (a student already on the
        # ladder has had theirs). Its key makes this safe to race.
        soon = LiveSession.objects.filter(pk=session.pk)
        result.merge(plan_starting_soon(soon, now=now, dry_run=dry_run, recipients=first_steps))
    on_their_way = reminders_on_their_way(kinds=REMINDERS, event_key=key, recipients=waiting)
    for student in sorted(waiting):
        if not steps.get(student) and _reminder_still_coming(session, on_their_way.get(student), now):
            continue  # a reminder is on its way (the 15-minute one, just planned): its receipt may come
        planned = _next_step(session, key, users[student], steps.get(student, {}), now=now, dry_run=dry_run)
        if planned:
            result.planned[planned] += 1
            result.messages += 1
    return result


def _reminder_still_coming(session, state, now: dt.datetime) -> bool:
    """A reminder to the student is not sent yet, or was sent less than a step's wait ago."""
    if state is None:
        return False
    waiting, last_sent = state
    if waiting:
        return True
    return last_sent is not None and now < last_sent + wait_for(last_sent, steps_after=len(ladder()), session=session)


def _next_step(session, key: str, user: dict, steps: dict, *, now: dt.datetime, dry_run: bool) -> str:
    """Plan one student's next step if one is due; return its channel, or "" when none goes now."""
    channels = [(number, channel) for number, channel in enumerate(ladder(), 1) if _usable(channel, user)]
    why, previous = "not reached by a reminder yet", None
    for index, (number, channel) in enumerate(channels):
        step = steps.get(number)
        if step is None:
            reason = f"Reach ladder step {number} ({channel}): {why}; the deadline is {deadline(session):%H:%M} UTC."
            if dry_run:
                return channel
            made, why_not = plan_ladder_step(
                kind=STEP_KIND,
                event_key=key,
                step=number,
                recipient_id=user["id"],
                channel=channel,
                context=session_context(session, now=now, tz=user["timezone"], locale=user["locale"]),
                subject_type=SESSION,
                subject_id=session.pk,
                expires_at=session.scheduled_at,  # nothing goes after the start
                reason=reason,
                now=now,
            )
            if why_not == "exists":
                return ""  # another decision (a receipt's, the job's) made it at the same moment: one row
            if made is None:
                continue  # the channel cannot take it (no number, no consent): the next one
            if previous is not None:
                note_delivery(previous, f"Reach ladder: escalated to {channel} (step {number}): {why}.", now=now)
            return channel
        if step.status in IN_FLIGHT:
            return ""  # it has not gone yet: its wait starts when it does
        if step.status in STOPPED or step.gone:
            why, previous = f"step {number} ({step.channel}) {step.status}", step.delivery_id
            continue
        if index == len(channels) - 1:
            return ""  # the last step: nothing after it
        sent = step.sent_at or step.created_at
        wait = wait_for(sent, steps_after=len(channels) - index - 1, session=session)
        if now < sent + wait:
            return ""
        why = f"step {number} ({step.channel}) not delivered within {_minutes(wait)}"
        previous = step.delivery_id
    return ""


@receiver(delivery_status_changed, dispatch_uid="lms.reach.receipt")
def escalate_on_receipt(sender, *, change: DeliveryChange, at: dt.datetime, **kwargs) -> None:
    """A receipt about a session's reminder or step: decide that student's ladder now, not at the next tick.

    A failure or bounce sends the next step within seconds; a delivery or read cancels a step not yet sent.
    Never breaks the webhook that brought the receipt: a problem is logged, and the minute job decides.
    """
    if change.subject_type != SESSION or change.recipient_id is None or change.kind not in REMINDERS:
        return
    session = LiveSession.objects.filter(pk=change.subject_id).select_related("course").first()
    if session is None:
        return
    try:
        with transaction.atomic():
            escalate(session, now=timezone.now(), students=[change.recipient_id])
    except Exception:  # the webhook must answer; the minute job decides instead
        logger.exception("Reach ladder: no decision on the receipt for delivery %s", change.delivery_id)
