"""
Set-based planning: plan a message to everyone a query finds in a few statements, whatever their number.

A rule describes its recipients as one query (an `Audience`) instead of yielding them one by one.
What the recipients of a group share (the session, its time in their zone and locale) is computed
in Python once per group, never per person: the distinct groups are read first, each is turned
into a `Group` (context, event) and its in-app title and message are rendered, and then one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING` per channel joins the groups to the recipients.
The database does the per-person work; the ledger's unique keys make it idempotent, as in
plan_messages(), and it runs inside the caller's transaction.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections, router
from django.db.models import QuerySet, TextField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from ..kinds import INAPP, MessageKind, get_kind
from ..languages import DEFAULT_LANGUAGE, message_locale
from ..models import Channel, Delivery, Notification
from ..rendering import inapp_sources, published_inapp_versions, render_inapp
from .planning import PREVIEW_LIMIT, REQUIREMENTS, PlanResult, priority_for, recipient_context

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

    def plans(self, kind: MessageKind, channel: str) -> bool:
        return channel in kind.channels and (self.channels is None or channel in self.channels)


GROUPS_PER_STATEMENT = 5000
# What the statements read of each group, with its PostgreSQL type.
GROUP_COLUMNS = {
    "key": "text",
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
        groups = _make_groups(
            message_kind, audience, distinct[start : start + GROUPS_PER_STATEMENT], connection, staff_inapp
        )
        if not groups:
            continue
        plan = _Statements(message_kind, audience, rows, groups, connection, now)
        # Before the inserts: who cannot get a channel, counted once per event (while it is new).
        result.skipped.update(plan.count_skipped(anchor=targets[0]))
        for target in targets:
            if dry_run:
                result.planned[target] += plan.count_new(target)
                if target != INAPP and len(result.preview) < PREVIEW_LIMIT:
                    limit = PREVIEW_LIMIT - len(result.preview)
                    for address, event_key in plan.preview_new(target, limit=limit):
                        result.preview.append((kind, target, address, event_key.split(":", 1)[1]))
            else:
                result.planned[target] += plan.insert(target)
    return result


def _groups(kind: MessageKind, audience: Audience, staff_inapp: dict) -> tuple[QuerySet, list[dict]]:
    """Return the rows with their group key, and the distinct groups."""
    grouped_by = (*audience.group_by, *_row_fields_rendered_in_app(kind, audience, staff_inapp))
    rows = audience.rows.annotate(**{GROUP_KEY: _group_key(grouped_by)}).order_by()
    # Grouped by nothing, everyone is in the one group: no need to read it (an empty audience inserts nothing).
    distinct = list(rows.values(GROUP_KEY, *grouped_by).distinct()) if grouped_by else [{GROUP_KEY: ""}]
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


def _make_groups(kind: MessageKind, audience: Audience, distinct: list[dict], connection, staff_inapp) -> list[str]:
    """Make each group's event, context and in-app text (once per group), as JSON: a short string
    each, where the dicts would take several times the memory."""
    encoder = Delivery._meta.get_field("context").encoder
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
            rendered = render_inapp(kind=kind, context=rendered_with, published=staff_inapp)
            title, message = rendered.subject[:200], rendered.text
        expires_at = connection.ops.adapt_datetimefield_value(group.expires_at)
        groups.append(
            json.dumps(
                {
                    "key": row[GROUP_KEY],
                    "event_key": group.event_key or None,
                    "subject_id": group.subject_id,
                    "expires_at": expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at,
                    "link": group.link,
                    "context": group.context,
                    "title": title,
                    "message": message,
                },
                cls=encoder,
            )
        )
    return groups


class _Statements:
    """The SQL of one audience: one SELECT per target (a channel or in-app), to insert or to count."""

    def __init__(self, kind: MessageKind, audience: Audience, rows: QuerySet, groups: list[str], connection, now):
        self.kind = kind
        self.connection = connection
        self.vendor = connection.vendor
        self.rows_sql, self.rows_params = rows.query.get_compiler(connection=connection).as_sql()
        self.groups_sql, self.groups_params = self._groups_source(groups)
        selected = set(rows.query.values_select) | set(rows.query.annotation_select)
        self.event = {column: f"p.{column}" if column in selected else f"g.{column}" for column in EVENT_COLUMNS}
        self.row_context = audience.row_context
        self.audience = audience
        self.has_language = "language" in _selected(rows)
        self.subject_type = audience.subject_type
        self.now = connection.ops.adapt_datetimefield_value(now)

    # --- what the vendors spell differently -----------------------------------------------------

    def _groups_source(self, groups: list[str]) -> tuple[str, list]:
        # One JSON document for the groups: a single parameter, where arrays would be quoted by the
        # driver element by element in Python.
        document = "[" + ",".join(groups) + "]"
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

    def _context_sql(self) -> str:
        pairs = ["'name', p.name", f"'first_name', {self._first_name_sql()}"]
        pairs += [f"'{key}', p.{column}" for key, column in self.row_context.items()]
        # The recipient's language, when not English (as planning.py): dispatch renders in it.
        other = f"p.language IS NOT NULL AND p.language NOT IN ('', '{DEFAULT_LANGUAGE}')"
        if self.vendor == "postgresql":
            language = f" || CASE WHEN {other} THEN jsonb_build_object('language', p.language) ELSE '{{}}' END"
            return f"g.context || jsonb_build_object({', '.join(pairs)})" + (language if self.has_language else "")
        context = f"json_patch(g.context, json_object({', '.join(pairs)}))"
        if self.has_language:
            language = f"CASE WHEN {other} THEN json_object('language', p.language) ELSE '{{}}' END"
            context = f"json_patch({context}, {language})"
        return context

    def _requirements_sql(self, channel: str) -> list[tuple[str, str, list]]:
        """(reason, condition, parameters) of each requirement of `channel`, in order (planning.REQUIREMENTS)."""
        return [(rule.reason, *rule.sql(self.vendor)) for rule in REQUIREMENTS.get(channel, ())]

    # --- the statements -------------------------------------------------------------------------

    def _dedupe_key_sql(self) -> tuple[str, str]:
        """Return the SQL of a row's event key and dedupe key (each takes the kind prefix as parameter)."""
        event_key = f"%s || {self.event['event_key']}"
        ref = "CASE WHEN p.recipient_id IS NULL THEN lower(p.email) ELSE 'u' || p.recipient_id END"
        return event_key, f"{event_key} || ':' || {ref}"

    def _select(self, target: str) -> tuple[list[str], str, list]:
        """Return the target table's columns and a SELECT of them, with its parameters."""
        event_key, dedupe_key = self._dedupe_key_sql()
        kind_prefix = f"{self.kind.name}:"
        if target == INAPP:
            model = Notification
            computed = {
                "user_id": ("p.recipient_id", []),
                "kind": ("%s", [self.kind.name]),
                "title": ("g.title", []),
                "message": ("g.message", []),
                "link": (self.event["link"], []),
                "created_at": ("%s", [self.now]),
                "dedupe_key": (dedupe_key, [kind_prefix]),
            }
            where, where_params = "p.recipient_id IS NOT NULL", []
        else:
            model = Delivery
            computed = {
                "kind": ("%s", [self.kind.name]),
                "channel": ("%s", [target]),
                "dedupe_key": (dedupe_key, [kind_prefix]),
                "event_key": (event_key, [kind_prefix]),
                "subject_type": ("%s", [self.subject_type]),
                "subject_id": (self.event["subject_id"], []),
                "recipient_id": ("p.recipient_id", []),
                "to_address": ("lower(p.email)" if target == Channel.EMAIL else "p.phone", []),
                "context": (self._context_sql(), []),
                "next_attempt_at": ("%s", [self.now]),
                "priority": ("%s", [priority_for(self.kind)]),
                "expires_at": (self.event["expires_at"], []),
                "created_at": ("%s", [self.now]),
                "updated_at": ("%s", [self.now]),
            }
            requirements = self._requirements_sql(target)
            where = " AND ".join(condition for _, condition, _ in requirements)
            where_params = [param for *_, params in requirements for param in params]
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
        select = (
            f"SELECT {', '.join(expressions)} FROM ({self.rows_sql}) p JOIN {self.groups_sql} "
            f'ON g.key = p."{GROUP_KEY}" WHERE {where}'
        )
        return columns, select, [*params, *self.rows_params, *self.groups_params, *where_params]

    def count_skipped(self, *, anchor: str) -> dict[str, int]:
        """Count, by reason, the recipients who cannot get a channel of the kind: one pass over the
        audience, counting only events still new for them (no `anchor` row yet), so each
        (event, recipient) is skipped once, as it is planned once."""
        reasons, sums, sums_params = [], [], []
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
        if not sums:
            return {}
        _, dedupe_key = self._dedupe_key_sql()
        table = self._table_and_conflict(anchor)[0]
        same_channel, channel_params = ("", []) if anchor == INAPP else ("d.channel = %s AND ", [anchor])
        sql = (
            f"SELECT {', '.join(sums)} FROM ({self.rows_sql}) p JOIN {self.groups_sql} "
            f'ON g.key = p."{GROUP_KEY}" '
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE {same_channel}d.dedupe_key = {dedupe_key})"
        )
        params = [*sums_params, *self.rows_params, *self.groups_params, *channel_params, f"{self.kind.name}:"]
        counts = self._execute(sql, params, lambda cursor: cursor.fetchone())
        return {reason: int(count) for reason, count in zip(reasons, counts, strict=True) if count}

    def _table_and_conflict(self, target: str) -> tuple[str, str, str]:
        if target == INAPP:
            return Notification._meta.db_table, "dedupe_key", "d.dedupe_key = s.dedupe_key"
        return Delivery._meta.db_table, "channel, dedupe_key", "d.channel = s.channel AND d.dedupe_key = s.dedupe_key"

    def insert(self, target: str) -> int:
        """Insert the target's rows that are new; return how many were made."""
        columns, select, params = self._select(target)
        table, conflict, _ = self._table_and_conflict(target)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) {select} ON CONFLICT ({conflict}) DO NOTHING"
        return self._execute(sql, params, lambda cursor: cursor.rowcount)

    def _new(self, target: str) -> tuple[str, list]:
        _, select, params = self._select(target)
        table, _, same = self._table_and_conflict(target)
        return f"FROM ({select}) s WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE {same})", params

    def count_new(self, target: str) -> int:
        """Count the target's rows that an insert would make now (a dry run)."""
        sql, params = self._new(target)
        return self._execute(f"SELECT count(*) {sql}", params, lambda cursor: cursor.fetchone()[0])

    def preview_new(self, target: str, *, limit: int) -> list[tuple[str, str]]:
        """Return up to `limit` (address, event key) of the messages a run would plan now."""
        sql, params = self._new(target)
        order = "ORDER BY s.event_key, s.to_address"
        return self._execute(f"SELECT s.to_address, s.event_key {sql} {order} LIMIT %s", [*params, limit], list)

    def _execute(self, sql: str, params: list, answer):
        # A cursor per statement: the driver keeps the last statement's text (with the groups in
        # it, megabytes at a million recipients) until its cursor closes.
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return answer(cursor)
