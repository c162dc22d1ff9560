"""The groups of an audience: the distinct combinations of its `group_by` columns, read in one
query; each made into its event, context and in-app text once (never per person), and its event
and context stored once when the group names its event."""

import hashlib
import json
import re
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet, TextField, Value
from django.db.models.functions import Cast, Concat

from common.languages import message_locale

from ...kinds import INAPP, MessageKind
from ...models import MessageEvent, MessageGroup
from ...recipients import recipient_context
from ...rendering import inapp_sources, render_inapp
from ..planning import event_ids, full_event_key
from .audience import GROUP_KEY, GROUP_SEPARATOR, Audience, selected


def read_groups(kind: MessageKind, audience: Audience, staff_inapp: dict) -> tuple[QuerySet, list[dict]]:
    """Return the rows with their group key, and the distinct groups."""
    grouped_by = (*audience.group_by, *_row_fields_rendered_in_app(kind, audience, staff_inapp))
    rows = audience.rows.annotate(**{GROUP_KEY: _group_key(grouped_by)}).order_by()
    # Grouped by nothing, everyone is in the one group: no need to read it (an empty audience inserts
    # nothing; one that cannot match anyone, `pk__in=[]`, has no group).
    distinct = list(rows.values(GROUP_KEY, *grouped_by).distinct()) if grouped_by else _one_group(rows)
    # In key order (the event's columns come first in it): an event's groups are planned in the same
    # statement, so each statement's rows follow the previous one's in the ledger's unique index
    # (event, recipient, channel) and its pages fill, instead of splitting in half when a later
    # statement inserts rows of an earlier event (64 against 44 bytes a row at 1M recipients).
    distinct.sort(key=lambda row: row[GROUP_KEY])
    return rows, distinct


def _one_group(rows: QuerySet) -> list[dict]:
    try:
        rows.query.get_compiler(using=rows.db).as_sql()
    except EmptyResultSet:
        return []
    return [{GROUP_KEY: ""}]


def _row_fields_rendered_in_app(kind: MessageKind, audience: Audience, staff_inapp: dict) -> tuple[str, ...]:
    """The per-recipient columns the in-app title or message mention: grouped by too, so the text
    rendered once per group is right for everyone in it. The recipient's language (when the rows
    select it) is always one: it picks the copy and the locale of the group's dates and amounts."""
    language = ["language"] if "language" in selected(audience.rows) else []
    if not audience.group_by_language and INAPP not in kind.channels:
        language = []
    if INAPP not in kind.channels:
        return tuple(column for column in language if column not in audience.group_by)
    source = inapp_sources(kind, staff_inapp.values())  # shipped and staff-published titles and messages
    mentioned = language + [column for key, column in audience.row_context.items() if re.search(rf"\b{key}\b", source)]
    if re.search(r"\b(first_)?name\b", source):
        mentioned.append("name")
    return tuple(column for column in mentioned if column not in audience.group_by)


def _group_key(columns: tuple[str, ...]):
    if not columns:
        return Value("", output_field=TextField())  # everyone in one group
    parts = []
    for column in columns:
        if parts:
            parts.append(Value(GROUP_SEPARATOR))
        parts.append(Cast(column, output_field=TextField()))
    return parts[0] if len(parts) == 1 else Concat(*parts, output_field=TextField())


def make_groups(kind: MessageKind, audience: Audience, distinct: list[dict], staff_inapp) -> list[dict]:
    """Make each group's event, context and in-app text (once per group)."""
    groups = []
    for row in distinct:
        if "language" in row:
            # Dates and amounts in the recipient's language, in their region ("hi" + "en_IN": hi_IN).
            row = {**row, "locale": message_locale(language=row["language"], locale=row.get("locale"))}
        group = audience.make_group(row)
        if group is None:
            continue
        title = message = ""
        if INAPP in kind.channels:
            rendered_with = {
                **group.context,
                **{key: row[column] for key, column in audience.row_context.items() if column in row},
            }
            if "name" in row:
                rendered_with.update(recipient_context(row["name"]))
            if row.get("language"):
                rendered_with["language"] = row["language"]
            rendered_with["rendered_for"] = INAPP  # words that age (a day) are left for the page to say
            rendered = render_inapp(kind=kind, context=rendered_with, published=staff_inapp)
            title, message = rendered.subject[:200], rendered.text
        groups.append(
            {
                "key": row[GROUP_KEY],
                "event_key": group.event_key or None,
                "subject_id": group.subject_id,
                "expires_at": group.expires_at,
                "link": group.link,
                "context": group.context,
                "title": title,
                "message": message,
            }
        )
    return groups


def store_events(kind: MessageKind, audience: Audience, groups: list[dict], now: datetime, *, dry_run: bool) -> None:
    """Give each group its event and stored context (`event_id`, `group_id`), when the group names
    its event: one statement for the events, one for the contexts, however many recipients. A dry
    run only reads the events that exist."""
    if "event_key" in selected(audience.rows):
        return  # the rows name their events: Statements.insert_events() makes them
    keys = {full_event_key(kind.name, group["event_key"]): group for group in groups}
    if dry_run:
        ids = dict(MessageEvent.objects.filter(key__in=list(keys)).values_list("key", "id"))
    else:
        ids = event_ids(
            {
                key: {
                    "kind": kind.name,
                    "subject_type": audience.subject_type,
                    "subject_id": group["subject_id"],
                    "created_at": now,
                }
                for key, group in keys.items()
            }
        )
    for group in groups:
        group["event_id"] = ids.get(full_event_key(kind.name, group["event_key"]))
    if dry_run:
        return
    encoder = MessageGroup._meta.get_field("context").encoder
    stored = {}
    for group in groups:
        document = json.dumps([group["context"], group["expires_at"]], sort_keys=True, cls=encoder, default=str)
        digest = hashlib.md5(document.encode(), usedforsecurity=False).hexdigest()
        stored.setdefault((group["event_id"], digest), []).append(group)
    made = MessageGroup.objects.bulk_create(
        [
            MessageGroup(event_id=event_id, digest=digest, context=same[0]["context"], expires_at=same[0]["expires_at"])
            for (event_id, digest), same in stored.items()
        ],
        update_conflicts=True,
        unique_fields=["event", "digest"],
        update_fields=["expires_at"],
    )
    for made_group, same in zip(made, stored.values(), strict=True):
        for group in same:
            group["group_id"] = made_group.pk
