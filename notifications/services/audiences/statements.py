"""The SQL of one audience: the rows joined to their groups, one INSERT ... SELECT per channel
(or one for every channel, on PostgreSQL), the skip counts and a dry run's counts and preview.
Each rule about a recipient comes from notifications.recipients: a Django expression annotated
on the rows (`p`), or a condition on them, by vendor."""

import json
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from ...kinds import INAPP, MessageKind
from ...models import Channel, Delivery, MessageEvent, MessageGroup, Notification
from ...recipients import REQUIREMENTS, FirstName, address_sql, stored_language_expression
from ..planning import priority_for
from .audience import EVENT_COLUMNS, GROUP_KEY, Audience, selected

# The rules the statements read from each row (notifications.recipients), annotated on the rows
# when a statement needs them: the first name and stored language of people without an account
# (an account's are read when its message is rendered).
FIRST_NAME, LANGUAGE = "plan_first_name", "plan_language"

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


class Statements:
    """The SQL of one audience: one SELECT per target (a channel or in-app), to insert or to count."""

    def __init__(self, kind: MessageKind, audience: Audience, rows: QuerySet, groups: list[dict], connection, now):
        self.kind = kind
        self.connection = connection
        self.vendor = connection.vendor
        columns = selected(rows)
        self.event = {column: f"p.{column}" if column in columns else f"g.{column}" for column in EVENT_COLUMNS}
        # The rows name their events (an event per person): events are joined by key, and each row
        # keeps its whole context; else the group's event and stored context are given by id.
        self.row_events = "event_key" in columns
        self.row_context = audience.row_context
        self.audience = audience
        # People without an account keep their language on their rows (when the rows select it).
        self.has_language = "language" in columns and not audience.accounts
        rows = rows.annotate(**self._rules())
        self.rows_sql, self.rows_params = rows.query.get_compiler(connection=connection).as_sql()
        self.groups_sql, self.groups_params = self._groups_source(groups)
        self.subject_type = audience.subject_type
        self.now = connection.ops.adapt_datetimefield_value(now)
        # A run pretending a later time (run_reminders --now) never dates a notification in the future.
        self.shown_at = connection.ops.adapt_datetimefield_value(min(now, timezone.now()))
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

    def _rules(self) -> dict:
        """The recipients' rules the statements read from the rows, as Django expressions."""
        rules = {}
        if not self.audience.accounts:
            rules[FIRST_NAME] = FirstName("name")
        if self.has_language:
            rules[LANGUAGE] = stored_language_expression("language")
        return rules

    def _own_context_sql(self) -> str:
        """The row's own context: the recipient's columns (row_context), and for people without an
        account their name and language; with the group's context too when the rows name their
        events. NULL when there is nothing."""
        pairs = [f"'{key}', p.{column}" for key, column in self.row_context.items()]
        if not self.audience.accounts:
            pairs += ["'name', p.name", f"'first_name', p.{FIRST_NAME}"]
        language = self.has_language
        stored = f"p.{LANGUAGE} IS NOT NULL"
        postgres = self.vendor == "postgresql"
        if postgres:
            own = f"jsonb_build_object({', '.join(pairs)})" if pairs else "'{}'::jsonb"
            if language:
                own += f" || CASE WHEN {stored} THEN jsonb_build_object('language', p.{LANGUAGE}) ELSE '{{}}' END"
            if self.row_events:
                return f"g.context || {own}"
            return f"nullif({own}, '{{}}'::jsonb)" if (pairs or language) else "NULL"
        own = f"json_object({', '.join(pairs)})" if pairs else "json_object()"
        if language:
            own = f"json_patch({own}, CASE WHEN {stored} THEN json_object('language', p.{LANGUAGE}) ELSE '{{}}' END)"
        if self.row_events:
            return f"json_patch(g.context, {own})"
        return f"nullif({own}, '{{}}')" if (pairs or language) else "NULL"

    def _requirements_sql(self, channel: str) -> list[tuple[str, str, list]]:
        """(reason, condition, parameters) of each requirement of `channel`, in order (recipients.REQUIREMENTS)."""
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
        return address_sql(channel, "p")

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

    def _not_notified_sql(self, *, event_id: str, user: str) -> tuple[str, list]:
        """The recipient has no in-app notification of this event yet."""
        table = self.connection.ops.quote_name(Notification._meta.db_table)
        return f"NOT EXISTS (SELECT 1 FROM {table} d WHERE d.event_id = {event_id} AND d.user_id = {user})", []

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
                "created_at": ("%s", [self.shown_at]),
                # The key, as the ledger's: (event, user), two integers.
                "event_id": (self._event_id_sql(), []),
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
        reasons, sql, params = self._skipped_sql(anchor=anchor)
        if not reasons:
            return {}
        counts = self._execute(sql, params, lambda cursor: cursor.fetchone())
        return self._skip_counts(reasons, counts)

    @staticmethod
    def _skip_counts(reasons: list[str], counts) -> dict[str, int]:
        return {reason: int(count) for reason, count in zip(reasons, counts, strict=True) if count}

    def _skipped_sql(self, *, anchor: str) -> tuple[list[str], str, list]:
        """The skip counts' reasons and SELECT (one row, a sum a reason); no reasons: nothing to count."""
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
            return [], "", []
        source, source_params = self._source()
        if anchor == INAPP:
            new, new_params = self._not_notified_sql(event_id=self._event_id_sql(), user="p.recipient_id")
        else:
            new, new_params = self._not_planned_sql(
                anchor, event_id=self._event_id_sql(), recipient="p.recipient_id", address=self._address_sql(anchor)
            )
        # Only the rows missing something are looked up in the ledger (most meet every requirement).
        missing = f"NOT coalesce(({' AND '.join(every)}), false)"
        sql = f"SELECT {', '.join(sums)} {source} WHERE {missing} AND {new}"
        return reasons, sql, [*sums_params, *source_params, *every_params, *new_params]

    def insert_channels(self, channels: list[str], *, skipped_anchor: str) -> tuple[dict[str, int], dict[str, int]]:
        """Insert the new rows of every channel in one statement (PostgreSQL); return how many by
        channel, and the skip counts by reason (count_skipped) from the same statement: every part
        of a statement reads the rows as they were before it, so the counts are those before the insert."""
        columns, select, params = self._select(channels)
        table = self.connection.ops.quote_name(Delivery._meta.db_table)
        reasons, skipped, skipped_params = self._skipped_sql(anchor=skipped_anchor)
        sums = ", ".join(f"s{index}" for index in range(len(reasons)))
        # In key order: the unique index's pages fill up instead of splitting in half (a third smaller),
        # and two planners racing on the same rows (the reach ladder and the 15-minute job) take their
        # locks in one order, so neither waits on the other in a cycle.
        sql = (
            f"WITH made AS (INSERT INTO {table} ({', '.join(columns)}) {select} "
            "ORDER BY event_id, recipient_id, channel ON CONFLICT DO NOTHING RETURNING channel)"
            + (f", skipped ({sums}) AS ({skipped})" if reasons else "")
            # The skip counts first: a statement's parts run as its result is read, and counted after
            # the insert their look-ups of the ledger would step over its new rows, invisible to them
            # but still in the heap. On a ledger planned as empty (a first run: statistics of no rows),
            # that look-up is a scan per recipient, and a first run at 1M recipients took hours.
            + (f" SELECT NULL, NULL, ARRAY[{sums}] FROM skipped UNION ALL" if reasons else "")
            + " SELECT channel, count(*), NULL FROM made GROUP BY channel"
        )
        answer = self._execute(sql, [*params, *skipped_params], lambda cursor: cursor.fetchall())
        made = {channel: count for channel, count, _ in answer if channel is not None}
        counts = next((sums for channel, _, sums in answer if channel is None), None) or [0] * len(reasons)
        return {channel: made.get(channel, 0) for channel in channels}, self._skip_counts(reasons, counts)

    def insert(self, target: str) -> int:
        """Insert the target's rows that are new; return how many were made."""
        columns, select, params = self._select(target)
        if target == INAPP:
            # In key order, as the ledger's rows: the unique index's pages fill up instead of splitting.
            table, conflict = Notification._meta.db_table, "ORDER BY event_id, user_id ON CONFLICT DO NOTHING"
        else:
            # Either unique key of the ledger: (event, recipient, channel), or (event, channel, address)
            # for people without an account.
            table, conflict = Delivery._meta.db_table, "ON CONFLICT DO NOTHING"
        sql = f"INSERT INTO {table} ({', '.join(columns)}) {select} {conflict}"
        return self._execute(sql, params, lambda cursor: cursor.rowcount)

    def _new(self, target: str) -> tuple[str, list]:
        _, select, params = self._select(target, with_key=True)
        if target == INAPP:
            new, new_params = self._not_notified_sql(event_id="s.event_id", user="s.user_id")
            return f"FROM ({select}) s WHERE {new}", [*params, *new_params]
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
