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

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections, router
from django.db.models import QuerySet, TextField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from common.languages import DEFAULT_LANGUAGE, message_locale

from ..kinds import INAPP, MessageKind, get_kind
from ..models import Channel, Delivery, MessageEvent, MessageGroup, Notification
from ..rendering import inapp_sources, published_inapp_versions, render_inapp
from .planning import (
    PREVIEW_LIMIT,
    REQUIREMENTS,
    PlanResult,
    event_ids,
    full_event_key,
    priority_for,
    recipient_context,
)

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

    def plans(self, kind: MessageKind, channel: str) -> bool:
        return channel in kind.channels and (self.channels is None or channel in self.channels)


GROUPS_PER_STATEMENT = 5000
# The recipient's part of an in-app notification's dedupe key (planning.Recipient.ref).
INAPP_REF = "CASE WHEN p.recipient_id IS NULL THEN lower(p.email) ELSE 'u' || p.recipient_id END"
# What the statements read of each group, with its PostgreSQL type.
GROUP_COLUMNS = {
    "key": "text",
    "event_id": "bigint",
    "group_id": "bigint",
    "event_key": "text",
    "subject_id": "bigint",
    "expires_at": "timestamptz",
    "link": "text",
    "context": "jsonb",
    "title": "text",
    "message": "text",
}


def plan_audience(*, kind: str, audience: Audience, now: datetime | None = None, dry_run: bool = False) -> PlanResult:
    """Plan `kind` to everyone in `audience` on every channel the kind uses; return what was made."""
    message_kind = get_kind(kind)
    now = now or timezone.now()
    result = PlanResult()
    rows, distinct = _groups(message_kind, audience, staff_inapp := {})
    if distinct and INAPP in message_kind.channels:
        # In-app copy staff published (one query a run) may mention more of the recipient's own fields.
        staff_inapp.update(published_inapp_versions(kind=message_kind.name))
        if staff_inapp:
            rows, distinct = _groups(message_kind, audience, staff_inapp)
    connection = connections[router.db_for_write(Delivery)]
    targets = [channel for channel in (Channel.EMAIL, Channel.WHATSAPP) if audience.plans(message_kind, channel)]
    if INAPP in message_kind.channels:
        targets.append(INAPP)
    # A bounded number of groups at a time keeps memory flat however many events there are; the
    # statements then grow with events (sessions x zones / GROUPS_PER_STATEMENT), never with people.
    for start in range(0, len(distinct), GROUPS_PER_STATEMENT):
        groups = _make_groups(message_kind, audience, distinct[start : start + GROUPS_PER_STATEMENT], staff_inapp)
        if not groups:
            continue
        _store_events(message_kind, audience, groups, now, dry_run=dry_run)
        plan = _Statements(message_kind, audience, rows, groups, connection, now)
        if not dry_run:
            plan.insert_events()
        # Before the inserts: who cannot get a channel, counted once per event (while it is new).
        result.skipped.update(plan.count_skipped(anchor=targets[0]))
        if not dry_run:
            one_by_one = targets
            channels = [target for target in targets if target != INAPP]
            if channels and connection.vendor == "postgresql":
                # Every channel in one pass over the audience, counted by channel.
                result.planned.update(plan.insert_channels(channels))
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


def _groups(kind: MessageKind, audience: Audience, staff_inapp: dict) -> tuple[QuerySet, list[dict]]:
    """Return the rows with their group key, and the distinct groups."""
    grouped_by = (*audience.group_by, *_row_fields_rendered_in_app(kind, audience, staff_inapp))
    rows = audience.rows.annotate(**{GROUP_KEY: _group_key(grouped_by)}).order_by()
    # Grouped by nothing, everyone is in the one group: no need to read it (an empty audience inserts nothing).
    distinct = list(rows.values(GROUP_KEY, *grouped_by).distinct()) if grouped_by else [{GROUP_KEY: ""}]
    # In key order (the event's columns come first in it): an event's groups are planned in the same
    # statement, so each statement's rows follow the previous one's in the ledger's unique index
    # (event, recipient, channel) and its pages fill, instead of splitting in half when a later
    # statement inserts rows of an earlier event (64 against 44 bytes a row at 1M recipients).
    distinct.sort(key=lambda row: row[GROUP_KEY])
    return rows, distinct


def _row_fields_rendered_in_app(kind: MessageKind, audience: Audience, staff_inapp: dict) -> tuple[str, ...]:
    """The per-recipient columns the in-app title or message mention: grouped by too, so the text
    rendered once per group is right for everyone in it. The recipient's language (when the rows
    select it) is always one: it picks the copy and the locale of the group's dates and amounts."""
    language = ["language"] if "language" in _selected(audience.rows) else []
    if INAPP not in kind.channels:
        return tuple(column for column in language if column not in audience.group_by)
    source = inapp_sources(kind, staff_inapp.values())  # shipped and staff-published titles and messages
    mentioned = language + [column for key, column in audience.row_context.items() if re.search(rf"\b{key}\b", source)]
    if re.search(r"\b(first_)?name\b", source):
        mentioned.append("name")
    return tuple(column for column in mentioned if column not in audience.group_by)


def _selected(rows: QuerySet) -> set[str]:
    return set(rows.query.values_select) | set(rows.query.annotation_select)


def _group_key(columns: tuple[str, ...]):
    if not columns:
        return Value("", output_field=TextField())  # everyone in one group
    parts = []
    for column in columns:
        if parts:
            parts.append(Value(GROUP_SEPARATOR))
        parts.append(Cast(column, output_field=TextField()))
    return parts[0] if len(parts) == 1 else Concat(*parts, output_field=TextField())


def _make_groups(kind: MessageKind, audience: Audience, distinct: list[dict], staff_inapp) -> list[dict]:
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


def _store_events(kind: MessageKind, audience: Audience, groups: list[dict], now: datetime, *, dry_run: bool) -> None:
    """Give each group its event and stored context (`event_id`, `group_id`), when the group names
    its event: one statement for the events, one for the contexts, however many recipients. A dry
    run only reads the events that exist."""
    if "event_key" in _selected(audience.rows):
        return  # the rows name their events: _Statements.insert_events() makes them
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


class _Statements:
    """The SQL of one audience: one SELECT per target (a channel or in-app), to insert or to count."""

    def __init__(self, kind: MessageKind, audience: Audience, rows: QuerySet, groups: list[dict], connection, now):
        self.kind = kind
        self.connection = connection
        self.vendor = connection.vendor
        self.rows_sql, self.rows_params = rows.query.get_compiler(connection=connection).as_sql()
        self.groups_sql, self.groups_params = self._groups_source(groups)
        selected = _selected(rows)
        self.event = {column: f"p.{column}" if column in selected else f"g.{column}" for column in EVENT_COLUMNS}
        # The rows name their events (an event per person): events are joined by key, and each row
        # keeps its whole context; else the group's event and stored context are given by id.
        self.row_events = "event_key" in selected
        self.row_context = audience.row_context
        self.audience = audience
        self.has_language = "language" in selected
        self.subject_type = audience.subject_type
        self.now = connection.ops.adapt_datetimefield_value(now)
        self.prefix = f"{kind.name}:"

    # --- what the vendors spell differently -----------------------------------------------------

    def _groups_source(self, groups: list[dict]) -> tuple[str, list]:
        # One JSON document for the groups: a single parameter, where arrays would be quoted by the
        # driver element by element in Python.
        adapt = self.connection.ops.adapt_datetimefield_value
        document = json.dumps(
            [{**group, "expires_at": adapt(group["expires_at"]) if group["expires_at"] else None} for group in groups],
            cls=MessageGroup._meta.get_field("context").encoder,
            default=lambda value: value.isoformat() if isinstance(value, datetime) else str(value),
        )
        if self.vendor == "postgresql":
            columns = ", ".join(f"{name} {sql_type}" for name, sql_type in GROUP_COLUMNS.items())
            return f"jsonb_to_recordset(%s::jsonb) AS g ({columns})", [document]
        # SQLite (JSON1): an object's members by name (json_extract gives an object as JSON text).
        picks = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name in GROUP_COLUMNS)
        return f"(SELECT {picks} FROM json_each(%s)) AS g", [document]

    def _first_name_sql(self) -> str:
        if self.vendor == "postgresql":
            first = "split_part(p.name, ' ', 1)"
        else:
            first = "CASE WHEN instr(p.name, ' ') > 0 THEN substr(p.name, 1, instr(p.name, ' ') - 1) ELSE p.name END"
        return f"coalesce(nullif({first}, ''), 'there')"  # as planning.first_name()

    def _own_context_sql(self) -> str:
        """The row's own context: the recipient's columns (row_context), and for people without an
        account their name and language; with the group's context too when the rows name their
        events. NULL when there is nothing."""
        pairs = [f"'{key}', p.{column}" for key, column in self.row_context.items()]
        if not self.audience.accounts:
            pairs += ["'name', p.name", f"'first_name', {self._first_name_sql()}"]
        language = self.has_language and not self.audience.accounts
        other = f"p.language IS NOT NULL AND p.language NOT IN ('', '{DEFAULT_LANGUAGE}')"
        postgres = self.vendor == "postgresql"
        if postgres:
            own = f"jsonb_build_object({', '.join(pairs)})" if pairs else "'{}'::jsonb"
            if language:
                own += f" || CASE WHEN {other} THEN jsonb_build_object('language', p.language) ELSE '{{}}' END"
            if self.row_events:
                return f"g.context || {own}"
            return f"nullif({own}, '{{}}'::jsonb)" if (pairs or language) else "NULL"
        own = f"json_object({', '.join(pairs)})" if pairs else "json_object()"
        if language:
            own = f"json_patch({own}, CASE WHEN {other} THEN json_object('language', p.language) ELSE '{{}}' END)"
        if self.row_events:
            return f"json_patch(g.context, {own})"
        return f"nullif({own}, '{{}}')" if (pairs or language) else "NULL"

    def _requirements_sql(self, channel: str) -> list[tuple[str, str, list]]:
        """(reason, condition, parameters) of each requirement of `channel`, in order (planning.REQUIREMENTS)."""
        return [(rule.reason, *rule.sql(self.vendor)) for rule in REQUIREMENTS.get(channel, ())]

    # --- the statements -------------------------------------------------------------------------

    def _source(self) -> tuple[str, list]:
        """FROM the rows joined to their groups (and, when the rows name them, their events)."""
        sql = f'FROM ({self.rows_sql}) p JOIN {self.groups_sql} ON g.key = p."{GROUP_KEY}"'
        params = [*self.rows_params, *self.groups_params]
        if self.row_events:
            events = self.connection.ops.quote_name(MessageEvent._meta.db_table)
            sql += f" LEFT JOIN {events} e ON e.key = %s || {self.event['event_key']}"
            params.append(self.prefix)
        return sql, params

    def _event_id_sql(self) -> str:
        return "e.id" if self.row_events else "g.event_id"

    @staticmethod
    def _address_sql(channel: str) -> str:
        return "lower(p.email)" if channel == Channel.EMAIL else "p.phone"

    def _not_planned_sql(self, channel: str, *, event_id: str, recipient: str, address: str) -> tuple[str, list]:
        """A row of `channel` for this event and recipient is not in the ledger yet."""
        table = self.connection.ops.quote_name(Delivery._meta.db_table)
        who = (
            f"d.recipient_id = {recipient}"
            if self.audience.accounts
            else f"d.recipient_id IS NULL AND d.to_address = {address}"
        )
        sql = f"NOT EXISTS (SELECT 1 FROM {table} d WHERE d.event_id = {event_id} AND d.channel = %s AND {who})"
        return sql, [channel]

    def insert_events(self) -> None:
        """Make the events the rows name (one statement), before their rows are inserted."""
        if not self.row_events:
            return
        quote = self.connection.ops.quote_name
        source, params = self._source()
        columns = ("kind", "key", "subject_type", "subject_id", "created_at")
        sql = (
            f"INSERT INTO {quote(MessageEvent._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT DISTINCT %s, %s || {self.event['event_key']}, %s, {self.event['subject_id']}, %s "
            f"{source} WHERE e.id IS NULL ON CONFLICT DO NOTHING"
        )
        params = [self.kind.name, self.prefix, self.subject_type, self.now, *params]
        self._execute(sql, params, lambda cursor: None)

    def _channels_sql(self, channels: list[str]) -> tuple[str, str, str, list]:
        """The channel, address and join of rows for several channels at once: each recipient joined
        to the channels whose requirements they meet. Returns (channel, address, join, parameters)."""
        values = ", ".join(["(%s)"] * len(channels))
        conditions, params = [], list(channels)
        for channel in channels:
            requirements = self._requirements_sql(channel)
            conditions.append(" AND ".join(["c.channel = %s", *(condition for _, condition, _ in requirements)]))
            params += [channel, *(param for *_, requirement in requirements for param in requirement)]
        address = (
            "CASE c.channel "
            + " ".join(f"WHEN '{channel}' THEN {self._address_sql(channel)}" for channel in channels)
            + " END"
        )
        join = f"JOIN (VALUES {values}) AS c (channel) ON ({') OR ('.join(conditions)})"
        return "c.channel", address, join, params

    def _select(self, target, *, with_key: bool = False) -> tuple[list[str], str, list]:
        """Return the target table's columns and a SELECT of them (and of the event key, `with_key`),
        with its parameters. `target` is in-app, a channel, or a list of channels (one pass for all)."""
        event_key = f"%s || {self.event['event_key']}"
        join, join_params = "", []
        if target == INAPP:
            model = Notification
            computed = {
                "user_id": ("p.recipient_id", []),
                "kind": ("%s", [self.kind.name]),
                "title": ("g.title", []),
                "message": ("g.message", []),
                "link": (self.event["link"], []),
                "created_at": ("%s", [self.now]),
                "dedupe_key": (f"{event_key} || ':' || {INAPP_REF}", [self.prefix]),
            }
            where, where_params = "p.recipient_id IS NOT NULL", []
        else:
            model = Delivery
            if isinstance(target, list):
                channel, address, join, join_params = self._channels_sql(target)
                channel_params, where, where_params = [], "1 = 1", []
            else:
                channel, address, channel_params = "%s", self._address_sql(target), [target]
                requirements = self._requirements_sql(target)
                where = " AND ".join(condition for _, condition, _ in requirements)
                where_params = [param for *_, params in requirements for param in params]
            computed = {
                "event_id": (self._event_id_sql(), []),
                "recipient_id": ("p.recipient_id", []),
                "channel": (channel, channel_params),
                "to_address": (address, []),
                "group_id": ("NULL" if self.row_events else "g.group_id", []),
                "own_context": (self._own_context_sql(), []),
                "next_attempt_at": ("%s", [self.now]),
                "priority": ("%s", [priority_for(self.kind)]),
                # The group's expiry is stored with its context; rows naming their events keep theirs.
                "expires_at": (self.event["expires_at"] if self.row_events else "NULL", []),
                "created_at": ("%s", [self.now]),
            }
        columns, expressions, params = [], [], []
        for model_field in model._meta.concrete_fields:
            if model_field.primary_key:
                continue
            sql, sql_params = computed.get(model_field.attname) or (
                "%s",
                [model_field.get_db_prep_save(model_field.get_default(), self.connection)],
            )
            columns.append(self.connection.ops.quote_name(model_field.column))
            expressions.append(f"{sql} AS {model_field.column}")
            params.extend(sql_params)
        if with_key:
            expressions.append(f"{event_key} AS plan_event_key")
            params.append(self.prefix)
        source, source_params = self._source()
        select = f"SELECT {', '.join(expressions)} {source} {join} WHERE {where}"
        return columns, select, [*params, *source_params, *join_params, *where_params]

    def count_skipped(self, *, anchor: str) -> dict[str, int]:
        """Count, by reason, the recipients who cannot get a channel of the kind: one pass over the
        audience, counting only events still new for them (no `anchor` row yet), so each
        (event, recipient) is skipped once, as it is planned once."""
        reasons, sums, sums_params = [], [], []
        every, every_params = [], []  # all the requirements: a row meeting them all is skipped by nothing
        for channel in (Channel.EMAIL, Channel.WHATSAPP):
            if not self.audience.plans(self.kind, channel):
                continue
            met, met_params = ["1 = 1"], []  # the conditions before this one: the row met them
            for reason, condition, params in self._requirements_sql(channel):
                reasons.append(reason)
                sums.append(
                    f"SUM(CASE WHEN {' AND '.join(met)} THEN (CASE WHEN {condition} THEN 0 ELSE 1 END) ELSE 0 END)"
                )
                sums_params += [*met_params, *params]
                met.append(condition)
                met_params += params
                every.append(condition)
                every_params += params
        if not sums:
            return {}
        source, source_params = self._source()
        if anchor == INAPP:
            table = self.connection.ops.quote_name(Notification._meta.db_table)
            key = f"%s || {self.event['event_key']} || ':' || {INAPP_REF}"
            new = f"NOT EXISTS (SELECT 1 FROM {table} d WHERE d.dedupe_key = {key})"
            new_params = [self.prefix]
        else:
            new, new_params = self._not_planned_sql(
                anchor, event_id=self._event_id_sql(), recipient="p.recipient_id", address=self._address_sql(anchor)
            )
        # Only the rows missing something are looked up in the ledger (most meet every requirement).
        missing = f"NOT coalesce(({' AND '.join(every)}), false)"
        sql = f"SELECT {', '.join(sums)} {source} WHERE {missing} AND {new}"
        params = [*sums_params, *source_params, *every_params, *new_params]
        counts = self._execute(sql, params, lambda cursor: cursor.fetchone())
        return {reason: int(count) for reason, count in zip(reasons, counts, strict=True) if count}

    def insert_channels(self, channels: list[str]) -> dict[str, int]:
        """Insert the new rows of every channel in one statement (PostgreSQL); return how many by channel."""
        columns, select, params = self._select(channels)
        table = self.connection.ops.quote_name(Delivery._meta.db_table)
        # In key order: the unique index's pages fill up instead of splitting in half (a third smaller).
        sql = (
            f"WITH made AS (INSERT INTO {table} ({', '.join(columns)}) {select} ORDER BY event_id, recipient_id "
            f"ON CONFLICT DO NOTHING RETURNING channel) SELECT channel, count(*) FROM made GROUP BY channel"
        )
        made = dict(self._execute(sql, params, lambda cursor: cursor.fetchall()))
        return {channel: made.get(channel, 0) for channel in channels}

    def insert(self, target: str) -> int:
        """Insert the target's rows that are new; return how many were made."""
        columns, select, params = self._select(target)
        if target == INAPP:
            table = Notification._meta.db_table
            conflict = "ON CONFLICT (dedupe_key) DO NOTHING"
        else:
            # Either unique key of the ledger: (event, recipient, channel), or (event, channel, address)
            # for people without an account.
            table, conflict = Delivery._meta.db_table, "ON CONFLICT DO NOTHING"
        sql = f"INSERT INTO {table} ({', '.join(columns)}) {select} {conflict}"
        return self._execute(sql, params, lambda cursor: cursor.rowcount)

    def _new(self, target: str) -> tuple[str, list]:
        _, select, params = self._select(target, with_key=True)
        if target == INAPP:
            table = self.connection.ops.quote_name(Notification._meta.db_table)
            return (
                f"FROM ({select}) s WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE d.dedupe_key = s.dedupe_key)",
                params,
            )
        new, new_params = self._not_planned_sql(
            target, event_id="s.event_id", recipient="s.recipient_id", address="s.to_address"
        )
        return f"FROM ({select}) s WHERE {new}", [*params, *new_params]

    def count_new(self, target: str) -> int:
        """Count the target's rows that an insert would make now (a dry run)."""
        sql, params = self._new(target)
        return self._execute(f"SELECT count(*) {sql}", params, lambda cursor: cursor.fetchone()[0])

    def preview_new(self, target: str, *, limit: int) -> list[tuple[str, str]]:
        """Return up to `limit` (address, event key) of the messages a run would plan now."""
        sql, params = self._new(target)
        order = "ORDER BY s.plan_event_key, s.to_address"
        return self._execute(f"SELECT s.to_address, s.plan_event_key {sql} {order} LIMIT %s", [*params, limit], list)

    def _execute(self, sql: str, params: list, answer):
        # A cursor per statement: the driver keeps the last statement's text (with the groups in
        # it, megabytes at a million recipients) until its cursor closes.
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return answer(cursor)
