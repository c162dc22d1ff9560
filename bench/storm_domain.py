"""
The storm's domain changes: real students, sessions and payments whose reminders the product plans
itself, then, at random moments mid-storm, sessions moved and cancelled, payments paid and people
opting out, each through the product's own services (lms.services.save_session and
mark_payment_paid; the unsubscribe link's and a WhatsApp STOP's paths). Each change's commit time
is kept, so the storm can count the messages the provider received after it.
"""

import datetime as dt
import random
from dataclasses import dataclass, field

# A message already inside a provider request when the change committed passed the gate before it:
# its arrival at the fake provider can trail the commit by the request's own time.
IN_FLIGHT = dt.timedelta(seconds=1)


@dataclass
class Change:
    """One change the storm makes; `at` is the share of the storm when it is made."""

    what: str  # "move", "cancel", "pay", "unsubscribe", "stop"
    at: float
    target: int  # a session's, payment's or student's id
    committed_at: dt.datetime | None = None
    old_key: str = ""  # a moved or cancelled session's reminders' event key before the change
    address: str = ""


@dataclass
class DomainChanges:
    students: int
    changes: list[Change] = field(default_factory=list)

    def seed(self, *, now: dt.datetime) -> None:
        """Create students in a course with four sessions and a pending payment each; plan their reminders."""
        from lms.models import Course, Enrollment, LiveSession, Payment, User
        from lms.reminders import plan_payment_reminders, plan_session_reminders_15min, plan_session_reminders_24h

        course = Course.objects.create(title="Storm course", slug="storm-course")
        users = User.objects.bulk_create(
            [
                User(
                    email=f"lms{i}@example.com",
                    name=f"Student {i}",
                    phone=f"+9198{i:08d}",
                    whatsapp_opt_in=True,
                    password="!",  # unusable
                )
                for i in range(self.students)
            ]
        )
        Enrollment.objects.bulk_create([Enrollment(student=u, course=course) for u in users])
        sessions = [
            LiveSession.objects.create(
                course=course,
                title=f"Storm session {n}",
                scheduled_at=now + offset,
                meeting_url="https://meet.example/s",
            )
            for n, offset in enumerate(
                # two "tomorrow" reminders, two "starting soon" (moments well after the storm)
                (dt.timedelta(hours=3), dt.timedelta(hours=5), dt.timedelta(minutes=13), dt.timedelta(minutes=14))
            )
        ]
        payments = Payment.objects.bulk_create(
            [
                Payment(student=u, amount=5000, description="Storm fee", created_at=now - dt.timedelta(days=4))
                for u in users
            ]
        )
        for plan in (plan_session_reminders_24h, plan_session_reminders_15min, plan_payment_reminders):
            plan(now=now)
        self._choose(sessions, payments, users)

    def _choose(self, sessions, payments, users) -> None:
        from lms.reminders import session_event_key

        def moment() -> float:
            return random.uniform(0.02, 0.5)  # while the backlog still holds their messages

        s24a, s24b, soon_a, soon_b = sessions
        self.changes += [Change("move", moment(), s24a.pk, old_key=session_event_key(s24a))]
        self.changes += [Change("cancel", moment(), s24b.pk, old_key=session_event_key(s24b))]
        self.changes += [Change("move", moment(), soon_a.pk, old_key=session_event_key(soon_a))]
        self.changes += [Change("cancel", moment(), soon_b.pk, old_key=session_event_key(soon_b))]
        paid = random.sample(payments, len(payments) * 2 // 5)
        self.changes += [Change("pay", moment(), p.pk) for p in paid]
        opting = random.sample(users, len(users) // 5)
        half = len(opting) // 2
        self.changes += [Change("unsubscribe", moment(), u.pk, address=u.email) for u in opting[:half]]
        self.changes += [Change("stop", moment(), u.pk, address=u.phone) for u in opting[half:]]
        self.changes.sort(key=lambda c: c.at)

    def make_due(self, *, share: float) -> int:
        """Make the changes due by `share` of the storm; return how many were made."""
        from django.db import connection

        made = 0
        for change in self.changes:
            if change.committed_at is None and change.at <= share:
                try:
                    _MAKE[change.what](change)
                except Exception:  # our own connection was one of those terminated: again next time
                    connection.close()
                    continue
                from django.utils import timezone

                change.committed_at = timezone.now()  # the service's transaction has committed
                made += 1
        return made

    def figures(self, *, deliveries: dict, first_arrival: dict) -> dict:
        """Messages the provider received after the change that stopped them committed."""
        from lms.wanted import PAYMENT, SESSION
        from notifications.kinds import get_kind
        from notifications.models import Suppression

        made = [c for c in self.changes if c.committed_at]
        session_changes = {(c.target, c.old_key): c for c in made if c.what in ("move", "cancel")}
        paid = {c.target: c for c in made if c.what == "pay"}
        email_out = {c.address: c for c in made if c.what == "unsubscribe"}
        whatsapp_out = {c.address: c for c in made if c.what == "stop"}
        email_categories = dict(
            Suppression.objects.filter(channel="email", address__in=email_out).values_list("address", "category")
        )
        late = {"session": [], "payment": [], "opt-out": []}
        stopped = {"session": 0, "payment": 0, "opt-out": 0}
        for pk, arrived in first_arrival.items():
            d = deliveries[pk]
            kind = get_kind(d.kind)
            checks = []
            if d.subject_type == SESSION:
                change = next(
                    (c for (s, k), c in session_changes.items() if s == d.subject_id and d.event_key.endswith(k)), None
                )
                checks.append(("session", change))
            if d.subject_type == PAYMENT:
                checks.append(("payment", paid.get(d.subject_id)))
            out_category = email_categories.get(d.to_address)
            if d.channel == "email" and out_category in (kind.category, Suppression.ALL_CATEGORIES):
                checks.append(("opt-out", email_out.get(d.to_address)))
            if d.channel == "whatsapp" and not kind.reply:
                checks.append(("opt-out", whatsapp_out.get(d.to_address)))
            for name, change in checks:
                if change and arrived > change.committed_at:
                    late[name].append((arrived - change.committed_at).total_seconds())
        for d in deliveries.values():
            if d.status == "cancelled" and d.subject_type in (SESSION, PAYMENT):
                stopped["session" if d.subject_type == SESSION else "payment"] += 1
            if d.status == "suppressed" and (d.to_address in email_out or d.to_address in whatsapp_out):
                stopped["opt-out"] += 1
        return {
            "domain changes made": dict(_count(made)),
            "sent after their session moved or was cancelled (old time)": _late(late["session"]),
            "payment reminders sent after the payment was paid": _late(late["payment"]),
            "sent to an address after its opt-out committed": _late(late["opt-out"]),
            "stopped by the gate (session, payment, opt-out)": dict(stopped),
        }


def _count(changes) -> dict:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.what] = counts.get(change.what, 0) + 1
    return counts


def _late(seconds: list[float]) -> str:
    """How many arrived after the commit, and how many of those more than IN_FLIGHT after it."""
    if not seconds:
        return "0"
    beyond = sum(1 for s in seconds if s > IN_FLIGHT.total_seconds())
    return f"{len(seconds)} ({beyond} > {IN_FLIGHT.total_seconds():.0f} s after; the latest by {max(seconds):.3f} s)"


def _move(change: Change) -> None:
    from lms.models import LiveSession
    from lms.services import save_session

    session = LiveSession.objects.get(pk=change.target)
    session.scheduled_at += dt.timedelta(hours=2)
    save_session(session=session, changed_fields={"scheduled_at"})


def _cancel(change: Change) -> None:
    from lms.models import LiveSession
    from lms.services import save_session

    session = LiveSession.objects.get(pk=change.target)
    session.is_cancelled = True
    save_session(session=session, changed_fields={"is_cancelled"})


def _pay(change: Change) -> None:
    from lms.models import Payment
    from lms.services import mark_payment_paid

    mark_payment_paid(payment=Payment.objects.get(pk=change.target))


def _unsubscribe(change: Change) -> None:
    """The one-click link in one of the person's emails, as the unsubscribe view follows it."""
    from notifications.models import Delivery
    from notifications.services.unsubscribe import resolve_unsubscribe_token, unsubscribe
    from notifications.tokens import make_unsubscribe_token

    delivery = Delivery.objects.filter(channel="email", to_address=change.address).order_by("pk").first()
    target = resolve_unsubscribe_token(token=make_unsubscribe_token(delivery_id=delivery.pk))
    unsubscribe(target=target, source="storm")


def _stop(change: Change) -> None:
    """The person replies STOP on WhatsApp, as Twilio's inbound webhook hands it over."""
    from notifications.services.inbound import receive_whatsapp_message

    receive_whatsapp_message(
        provider="twilio", provider_message_id=f"SMstop{change.target:028d}", from_address=change.address, text="STOP"
    )


_MAKE = {"move": _move, "cancel": _cancel, "pay": _pay, "unsubscribe": _unsubscribe, "stop": _stop}
