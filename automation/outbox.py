"""
Tomorrow's outbox: what the planning jobs will plan in the next 24 h, by their own dry runs.

Nothing here knows a rule. Each planning job runs in dry-run mode at moments through the period
(`--dry-run --now` as a person would from the command line): hourly, or as finely as the job's
`outbox_step` says (every 15 minutes for "starting soon", whose window is 15 minutes), and at each
run of a daily job. A message's "when" is the first moment its job's dry run plans it (it
goes within a step of that). What is already planned and not gone (pending, held) comes from the
ledger (notifications.api.waiting_deliveries).
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Q

from leads.models import Lead
from notifications.api import DEFAULT_LANGUAGE, PlanResult, subjects_on_hold, waiting_deliveries

from .jobs import JOBS, Job

PERIOD = dt.timedelta(hours=24)


@dataclass
class OutboxItem:
    """One event's messages: its kind, event, recipients per channel, languages and when."""

    kind: str
    event: str  # the event's key
    when: dt.datetime | None
    channels: Counter = field(default_factory=Counter)  # messages per channel
    languages: Counter = field(default_factory=Counter)  # messages per language
    status: str = ""  # planned rows: pending or held
    event_id: int | None = None
    about: str = ""  # the subject in words (the session's title)
    held: bool = False  # the event is held (rows planned later are held too)
    subject: str = ""  # "lms.livesession:42": what a hold of everything about it names
    subject_held: bool = False  # everything about the subject is held

    # Lists for templates (a Counter answers 0 to `.items` in a template's lookup).
    @property
    def channel_counts(self) -> list[tuple[str, int]]:
        return sorted(self.channels.items())

    @property
    def language_counts(self) -> list[tuple[str, int]]:
        return sorted(self.languages.items())

    @property
    def recipients(self) -> int:
        return max(self.channels.values(), default=0)


def planning_jobs() -> list[Job]:
    """The jobs that plan messages (their dry run returns a PlanResult)."""
    return [job for job in JOBS if not job.real_clock]


def moments(job: Job, *, now: dt.datetime, period: dt.timedelta = PERIOD) -> list[dt.datetime]:
    """When to ask `job` what it would plan: from now through the period."""
    spec = job.schedule
    if spec.daily_at is not None:
        found, moment = [now], now
        while (moment := spec.next_run(after=moment)) <= now + period:
            found.append(moment)
        return found
    step = job.outbox_step
    return [now + step * n for n in range(int(period / step) + 1)]


def upcoming(*, now: dt.datetime, period: dt.timedelta = PERIOD) -> list[OutboxItem]:
    """Return what the planning jobs will plan in the period, per event (soonest first)."""
    first: dict[tuple, dt.datetime] = {}
    subjects: dict[str, tuple[str, int]] = {}
    for job in planning_jobs():
        for moment in moments(job, now=now, period=period):
            result = job.run(now=moment, dry_run=True)
            if not isinstance(result, PlanResult):
                break
            for kind, channel, address, event in result.preview:
                first.setdefault((kind, event, channel, address), moment)
            subjects.update(result.subjects)
    languages = _languages({address for _kind, _event, _channel, address in first})
    held = subjects_on_hold(subjects.values())
    items: dict[tuple, OutboxItem] = {}
    for (kind, event, channel, address), moment in first.items():
        item = items.get((kind, event))
        if item is None:
            subject = subjects.get(event)
            item = items[kind, event] = OutboxItem(
                kind=kind,
                event=f"{kind}:{event}",
                when=moment,
                subject=f"{subject[0]}:{subject[1]}" if subject else "",
                subject_held=subject in held,
            )
        item.when = min(item.when, moment)
        item.channels[channel] += 1
        item.languages[languages.get(address, DEFAULT_LANGUAGE)] += 1
    names = _subject_names(_by_type(subjects.values()))
    for item in items.values():
        item.about = names.get(item.subject, "")
    return sorted(items.values(), key=lambda item: (item.when, item.event))


def _by_type(subjects) -> dict[str, set]:
    by_type = defaultdict(set)
    for subject_type, subject_id in subjects:
        by_type[subject_type].add(subject_id)
    return by_type


def _languages(addresses: set[str]) -> dict[str, str]:
    """The language of each address's person (an account, else a lead), by email or phone."""
    emails = {address for address in addresses if "@" in address}
    phones = addresses - emails
    found = {}
    for model in (get_user_model(), Lead):
        people = model._default_manager.filter(Q(email__in=emails) | Q(phone__in=phones))
        for email, phone, language in people.values_list("email", "phone", "language"):
            for address in (email, phone):
                if address in addresses:
                    found.setdefault(address, language or DEFAULT_LANGUAGE)
    return found


def planned(*, now: dt.datetime, period: dt.timedelta = PERIOD) -> list[OutboxItem]:
    """Return what is planned and not gone (pending within the period, or held), per event and status."""
    items: dict[tuple, OutboxItem] = {}
    subjects = defaultdict(set)
    for row in waiting_deliveries(until=now + period):
        item = items.setdefault(
            (row["event_id"], row["status"]),
            OutboxItem(
                kind=row["kind"],
                event=row["key"],
                when=row["first_due"],
                status=row["status"],
                event_id=row["event_id"],
                held=row["held_at"] is not None,
                subject=f"{row['subject_type']}:{row['subject_id']}" if row["subject_type"] else "",
                subject_held=row["subject_held"],
            ),
        )
        item.when = min(item.when, row["first_due"])
        item.channels[row["channel"]] += row["count"]
        item.languages[row["language"]] += row["count"]
        if row["subject_type"]:
            subjects[row["subject_type"]].add(row["subject_id"])
    names = _subject_names(subjects)
    for item in items.values():
        item.about = names.get(item.subject, "")
    return sorted(items.values(), key=lambda item: (item.when, item.event))


def _subject_names(subjects: dict[str, set]) -> dict[str, str]:
    """Name each subject ("lms.livesession": ids) by its own str(): a session's title."""
    names = {}
    for label, ids in subjects.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue
        for obj in model._default_manager.filter(pk__in=ids):
            names[f"{label}:{obj.pk}"] = str(obj)
    return names
