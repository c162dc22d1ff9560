"""Set-based SQL the ORM does not offer: an insert that skips conflicts and says what it made, an
update that says which rows it changed, and a lookup that matches a list as one parameter."""

import json
import re

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.db.models.fields.related import ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In
from django.utils import timezone

# Fields whose Python values the drivers take as they are.
_PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)
# A type's modifiers: "varchar(254)" -> "varchar". An explicit cast to varchar(254) would cut a longer
# value silently; cast to the bare type, the column's own assignment refuses it, as it does from VALUES.
_TYPE_MODIFIERS = re.compile(r"\([^)]*\)")
# Rows per statement on PostgreSQL (one parameter per column): bounds the memory one statement takes.
POSTGRESQL_ROWS = 20_000


@models.Field.register_lookup
class AnyOf(In):
    """`field__any=values`: `field IN (values)`, except on PostgreSQL, where it is `field = ANY(%s)`
    with the values as one array parameter. The dispatcher asks for a hundred ids or addresses at a
    time, and a statement with a placeholder for each costs the driver four times the CPU to build."""

    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if self.rhs_is_direct_value():
            values = [value for value in self.rhs if value is not None]
            if not values:
                raise EmptyResultSet
            lhs, lhs_params = self.process_lhs(compiler, connection)
            field = self.lhs.output_field
            array = [field.get_db_prep_value(value, connection, prepared=True) for value in values]
            return f"{lhs} = ANY(%s)", (*lhs_params, array)
        return super().as_sql(compiler, connection)


@ForeignObject.register_lookup
class RelatedAnyOf(RelatedIn, AnyOf):
    """`foreign_key__any=ids` (or `_id__any`): the same, for a foreign key's values."""

    lookup_name = "any"


def update_returning_ids(queryset, *, guard: dict | None = None, **values) -> list:
    """Set `values` (field name -> value) on the rows of `queryset` whose fields still equal `guard`
    when the update reaches them; return their primary keys (one UPDATE ... RETURNING).

    `guard` is checked on the row itself, so a row another transaction just changed is checked as it
    now is (the queryset's conditions are a subquery, read once). What a caller then plans for "the
    rows just updated" is these ids: a query for them by what the update set (a flag, a time stamp)
    is one the planner cannot estimate (its statistics predate the update, so it expects one row) and
    may join row by row against thousands.
    """
    model = queryset.model
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name

    def prepared(values: dict) -> tuple[list[str], list]:
        fields = {model._meta.get_field(name): value for name, value in values.items()}
        columns = [f"{quote(field.column)} = %s" for field in fields]
        return columns, [field.get_db_prep_save(value, connection) for field, value in fields.items()]

    assignments, params = prepared(values)
    checks, check_params = prepared(guard or {})
    pk = quote(model._meta.pk.column)
    try:
        inner, inner_params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # .none(), or a lookup of no values: nothing to update
        return []
    where = " AND ".join([f"{pk} IN ({inner})", *checks])
    sql = f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} WHERE {where} RETURNING {pk}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params, *check_params])
        return [row[0] for row in cursor.fetchall()]


def _adapter(field, connection):
    if isinstance(field, models.JSONField):
        return lambda value: connection.ops.adapt_json_value(value, field.encoder)
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, _PLAIN):
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def _adapt(adapt, value):
    return adapt(value) if adapt is not None and value is not None else value


def _bare_type(field, connection) -> str | None:
    """Return the column's type without modifiers, or None when it cannot go through ROWS FROM."""
    db_type = field.db_type(connection)
    if not db_type or db_type.endswith("]"):
        return None  # unnest() would flatten an array column's arrays: those take the VALUES path
    return _TYPE_MODIFIERS.sub("", db_type).strip()


def insert_ignoring_conflicts(
    model, rows: list[dict], *, conflict_fields: tuple[str, ...] = (), any_conflict: bool = False
) -> list[int]:
    """Insert `rows` (field attname -> value; defaults fill the rest), skipping rows that hit the
    unique `conflict_fields` (or, with `any_conflict`, any unique index; neither: a plain insert);
    return the ids of the rows made, in no set order.

    Unlike bulk_create(ignore_conflicts=True) this says which rows were new (INSERT ... ON
    CONFLICT DO NOTHING RETURNING, on PostgreSQL and SQLite >= 3.35), and it builds no model
    instances: planning a million messages spends its time in the database, not in Python.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # auto_now fields are stamped; other missing values take the field's default (the same for every row).
    defaults = {f.attname: now if getattr(f, "auto_now", False) else f.get_default() for f in fields}
    adapters = [(f.attname, _adapter(f, connection)) for f in fields]
    quote = connection.ops.quote_name
    conflict = ", ".join(quote(model._meta.get_field(name).column) for name in conflict_fields)
    on_conflict = f"ON CONFLICT ({conflict}) DO NOTHING " if conflict_fields else ""
    if any_conflict:
        on_conflict = "ON CONFLICT DO NOTHING "
    insert = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    returning = f"{on_conflict}RETURNING {quote(model._meta.pk.column)}"
    types = [_bare_type(f, connection) for f in fields] if connection.vendor == "postgresql" else [None]
    made: list[int] = []
    with connection.cursor() as cursor:
        if all(types):
            for start in range(0, len(rows), POSTGRESQL_ROWS):
                sql, params = _rows_from(rows[start : start + POSTGRESQL_ROWS], fields, adapters, defaults, types)
                cursor.execute(f"{insert} {sql} {returning}", params)
                made.extend(row[0] for row in cursor.fetchall())
            return made
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        # Stay under the driver's parameter limit (SQLite: 32766, PostgreSQL: 65535).
        per_statement = max(1, 30000 // len(fields))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [
                _adapt(adapt, row.get(attname, defaults[attname])) for row in chunk for attname, adapt in adapters
            ]
            cursor.execute(f"{insert} VALUES {', '.join([row_sql] * len(chunk))} {returning}", params)
            made.extend(row[0] for row in cursor.fetchall())
    return made


def _rows_from(rows: list[dict], fields, adapters, defaults: dict, types: list[str]) -> tuple[str, list]:
    """Return `SELECT ... FROM ROWS FROM (...)` and its parameters for PostgreSQL: one parameter per column.

    The statement stays short whatever the number of rows, where a VALUES list of tens of
    thousands of placeholders costs more for the driver to build than for the server to run.
    A column with one value for every row (a default, the batch's id) goes as one scalar; a column
    of text or JSON as one JSON array, which json.dumps writes at C speed where psycopg would quote
    array elements one by one in Python; any other column as an array, through unnest().
    """
    columns = [[row.get(attname, defaults[attname]) for row in rows] for attname, _ in adapters]
    # `is`: the very same object is the same value whatever its type (equality is not: True == 1).
    constant = [all(value is values[0] for value in values) for values in columns]
    constant[0] = constant[0] and not all(constant)  # the FROM clause needs one column to make the rows
    selected, scalars, sources, source_params = [], [], [], []
    for field, (_, adapt), db_type, values, is_constant in zip(fields, adapters, types, columns, constant, strict=True):
        if is_constant:
            selected.append(f"%s::{db_type}")
            scalars.append(_adapt(adapt, values[0]))
            continue
        column = f"u.c{len(sources) + 1}"
        if isinstance(field, models.JSONField):
            sources.append("jsonb_array_elements(%s::jsonb)")
            source_params.append(json.dumps(values, cls=field.encoder, ensure_ascii=False))
            selected.append(f"NULLIF({column}, 'null'::jsonb)")  # None is SQL NULL, as from VALUES
            continue
        if adapt is not None:
            values = [_adapt(adapt, value) for value in values]
        if all(value is None or isinstance(value, str) for value in values):
            sources.append("jsonb_array_elements_text(%s::jsonb)")
            source_params.append(json.dumps(values, ensure_ascii=False))
            selected.append(f"{column}::{db_type}")
        else:
            sources.append(f"unnest(%s::{db_type}[])")
            source_params.append(values)
            selected.append(column)
    names = ", ".join(f"c{n}" for n in range(1, len(sources) + 1))
    # The select list's placeholders come before the FROM clause's in the text, so its scalars come first.
    sql = f"SELECT {', '.join(selected)} FROM ROWS FROM ({', '.join(sources)}) AS u({names})"
    return sql, scalars + source_params
