"""
Set-based planning: plan a message to everyone a query finds in a few statements, whatever their number.

A rule describes its recipients as one query (an `Audience`) instead of yielding them one by one.
What the recipients of a group share (the session, its time in their zone and locale) is computed
in Python once per group, never per person: the distinct groups are read first, each is turned
into a `Group` (context, event) and its in-app title and message are rendered, and then one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING` per channel joins the groups to the recipients.
The database does the per-person work; the ledger's unique keys make it idempotent, as in
plan_messages(), and it runs inside the caller's transaction.

The ledger is lean: when a group names its event (a session's reminder), the event and the group's
context are stored once (MessageEvent, MessageGroup, one statement each) and each row keeps only
what is its own. When the rows name their events (a payment's reminder, a lead's email: an event per
person), the events are made from the rows in one statement and each row keeps its whole context.
"""

from datetime import datetime

from django.db import connections, router
from django.utils import timezone

from ...kinds import INAPP, get_kind
from ...models import Channel, Delivery
from ...rendering import published_inapp_versions
from ..planning import PREVIEW_LIMIT, PlanResult
from .audience import EVENT_COLUMNS, GROUP_KEY, RECIPIENT_COLUMNS, Audience, Group
from .groups import make_groups, read_groups, store_events
from .statements import Statements

__all__ = [
    "EVENT_COLUMNS",
    "GROUPS_PER_STATEMENT",
    "GROUP_KEY",
    "RECIPIENT_COLUMNS",
    "Audience",
    "Group",
    "plan_audience",
]

# Groups planned by one set of statements (read here by plan_audience: tests set it lower).
GROUPS_PER_STATEMENT = 5000


def plan_audience(*, kind: str, audience: Audience, now: datetime | None = None, dry_run: bool = False) -> PlanResult:
    """Plan `kind` to everyone in `audience` on every channel the kind uses; return what was made."""
    message_kind = get_kind(kind)
    now = now or timezone.now()
    result = PlanResult()
    rows, distinct = read_groups(message_kind, audience, staff_inapp := {})
    if distinct and INAPP in message_kind.channels:
        # In-app copy staff published (one query a run) may mention more of the recipient's own fields.
        staff_inapp.update(published_inapp_versions(kind=message_kind.name))
        if staff_inapp:
            rows, distinct = read_groups(message_kind, audience, staff_inapp)
    connection = connections[router.db_for_write(Delivery)]
    targets = [channel for channel in (Channel.EMAIL, Channel.WHATSAPP) if audience.plans(message_kind, channel)]
    if INAPP in message_kind.channels:
        targets.append(INAPP)
    # A bounded number of groups at a time keeps memory flat however many events there are; the
    # statements then grow with events (sessions x zones / GROUPS_PER_STATEMENT), never with people.
    for start in range(0, len(distinct), GROUPS_PER_STATEMENT):
        groups = make_groups(message_kind, audience, distinct[start : start + GROUPS_PER_STATEMENT], staff_inapp)
        if not groups:
            continue
        store_events(message_kind, audience, groups, now, dry_run=dry_run)
        if dry_run and audience.subject_type:
            for group in groups:
                if group.get("event_key") and group.get("subject_id") is not None:
                    result.subjects[group["event_key"]] = (audience.subject_type, group["subject_id"])
        plan = Statements(message_kind, audience, rows, groups, connection, now)
        if not dry_run:
            plan.insert_events()
        channels = [target for target in targets if target != INAPP]
        together = not dry_run and channels and connection.vendor == "postgresql"
        if not together:
            # Before the inserts: who cannot get a channel, counted once per event (while it is new).
            result.skipped.update(plan.count_skipped(anchor=targets[0]))
        if not dry_run:
            one_by_one = targets
            if together:
                # Every channel in one pass over the audience, counted by channel, with the skip counts
                # (as before the insert) in the same statement.
                planned, skipped = plan.insert_channels(channels, skipped_anchor=targets[0])
                result.planned.update(planned)
                result.skipped.update(skipped)
                one_by_one = [target for target in targets if target == INAPP]
            for target in one_by_one:
                result.planned[target] += plan.insert(target)
            continue
        for target in targets:
            result.planned[target] += plan.count_new(target)
            if target != INAPP and len(result.preview) < PREVIEW_LIMIT:
                limit = PREVIEW_LIMIT - len(result.preview)
                for address, event_key in plan.preview_new(target, limit=limit):
                    result.preview.append((kind, target, address, event_key.split(":", 1)[1]))
    return result
