"""Set-based writes the ORM does not offer: an insert that skips conflicts and counts what it made."""

from django.db import connections, router


def insert_ignoring_conflicts(objs: list, *, conflict_fields: tuple[str, ...]) -> list[int]:
    """Insert `objs` (unsaved, one model), skip rows that hit the unique `conflict_fields`; return new ids.

    Unlike bulk_create(ignore_conflicts=True) this says how many rows were new
    (INSERT ... ON CONFLICT DO NOTHING RETURNING, on PostgreSQL and SQLite >= 3.35).
    """
    if not objs:
        return []
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    conflict = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in conflict_fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Stay under the driver's parameter limit (SQLite: 32766, PostgreSQL: 65535).
    per_statement = max(1, 30000 // len(fields))
    made: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in chunk for f in fields]
            sql = (
                f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
                f"VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {pk}"
            )
            cursor.execute(sql, params)
            made.extend(row[0] for row in cursor.fetchall())
    return made
