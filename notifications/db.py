"""Set-based writes the ORM does not offer: an insert that skips conflicts and says what it made."""

from django.db import connections, models, router
from django.utils import timezone

# Fields whose Python values the drivers take as they are.
_PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


def _adapter(field, connection):
    if isinstance(field, models.JSONField):
        return lambda value: connection.ops.adapt_json_value(value, field.encoder)
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, _PLAIN):
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def insert_ignoring_conflicts(model, rows: list[dict], *, conflict_fields: tuple[str, ...] = ()) -> list[int]:
    """Insert `rows` (field attname -> value; defaults fill the rest), skipping rows that hit the
    unique `conflict_fields` (none: a plain insert); return the ids of the rows made.

    Unlike bulk_create(ignore_conflicts=True) this says which rows were new (INSERT ... ON
    CONFLICT DO NOTHING RETURNING, on PostgreSQL and SQLite >= 3.35), and it builds no model
    instances: planning a million messages spends its time in the database, not in Python.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # auto_now fields are stamped; other missing values take the field's default.
    defaults = {f.attname: now if getattr(f, "auto_now", False) else f.get_default() for f in fields}
    adapters = [(f.attname, _adapter(f, connection)) for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    conflict = ", ".join(quote(model._meta.get_field(name).column) for name in conflict_fields)
    on_conflict = f"ON CONFLICT ({conflict}) DO NOTHING " if conflict_fields else ""
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Stay under the driver's parameter limit (SQLite: 32766, PostgreSQL: 65535).
    per_statement = max(1, 30000 // len(fields))
    made: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = []
            for row in chunk:
                for attname, adapt in adapters:
                    value = row.get(attname, defaults[attname])
                    params.append(adapt(value) if adapt is not None and value is not None else value)
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row_sql] * len(chunk))} "
                f"{on_conflict}RETURNING {quote(model._meta.pk.column)}",
                params,
            )
            made.extend(row[0] for row in cursor.fetchall())
    return made
