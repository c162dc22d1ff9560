"""What a rule gives plan_audience(): its recipients as one query (an `Audience`) and what the
recipients of each group share (a `Group`)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from ...kinds import MessageKind

# The columns every audience's rows select (values(...) names).
RECIPIENT_COLUMNS = ("recipient_id", "email", "phone", "whatsapp_opt_in", "name")
# Each of these comes from the rows when they select it, else from the row's group.
EVENT_COLUMNS = ("event_key", "subject_id", "expires_at", "link")
GROUP_KEY = "plan_group"
GROUP_SEPARATOR = "\x1f"  # the ASCII unit separator: not found in names, zones or prices


@dataclass(frozen=True)
class Group:
    """What the recipients of one group share: the event and the context their messages render with."""

    context: dict
    event_key: str = ""
    subject_id: int | None = None
    expires_at: datetime | None = None
    link: str = ""


@dataclass
class Audience:
    """The recipients of one kind of message as one query.

    `rows` is a values() queryset with RECIPIENT_COLUMNS, the `group_by` columns, the columns
    `row_context` names and any of EVENT_COLUMNS. `make_group` turns one distinct combination
    of the `group_by` columns (a dict) into a Group, or None to plan nothing for it this run.
    """

    rows: QuerySet
    group_by: tuple[str, ...]
    make_group: Callable[[dict], Group | None]
    subject_type: str = ""
    # Context keys taken from each recipient's row (key -> column), beside name and first_name.
    row_context: dict[str, str] = field(default_factory=dict)
    # The channels to plan this time, when fewer than the kind's (a campaign with no WhatsApp
    # template goes by email alone): None plans every channel of the kind.
    channels: tuple[str, ...] | None = None
    # False when the rows are people without an account (leads): their rows keep their name, and
    # the ledger knows them by address.
    accounts: bool = True
    # False when `make_group` gives every language the same group (a campaign's shared offer) and the
    # kind has no in-app text: the groups are then not read by language (one statement less), and each
    # row still keeps its recipient's language for the message's copy.
    group_by_language: bool = True

    def plans(self, kind: MessageKind, channel: str) -> bool:
        return channel in kind.channels and (self.channels is None or channel in self.channels)


def selected(rows: QuerySet) -> set[str]:
    """The columns a values() queryset selects."""
    return set(rows.query.values_select) | set(rows.query.annotation_select)
