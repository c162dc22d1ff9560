"""The in-app table gets the lean ledger's key: (event, user), two integers naming a MessageEvent,
where a text `dedupe_key` was ("<event key>:u<user id>"); the created-at index no page reads goes."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _key_sql(connection, table: str = "") -> tuple[str, str]:
    """(the event key in a notification's dedupe key, the condition that it has one) as SQL: a planned
    key is "<event key>:u<user id>"."""
    column = f"{table}." if table else ""
    user = f"CAST({column}user_id AS TEXT)" if connection.vendor != "postgresql" else f"{column}user_id"
    key = f"{column}dedupe_key"
    prefix = f"substr({key}, 1, length({key}) - length(':u' || {user}))"
    return prefix, f"{key} IS NOT NULL AND {key} LIKE '%:u' || {user}"


def name_events(apps, schema_editor):
    """Give each notification planned under a key its event (made when no delivery made it first):
    set-based statements, as the table can hold millions of rows. A key that does not end in its
    user's reference (none is planned so) is left without an event, as a staff test's is."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    notification = quote(apps.get_model("notifications", "Notification")._meta.db_table)
    event = quote(apps.get_model("notifications", "MessageEvent")._meta.db_table)
    prefix, keyed = _key_sql(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {event} (kind, key, subject_type, subject_id, created_at) "
            f"SELECT MIN(kind), {prefix}, '', NULL, MIN(created_at) FROM {notification} WHERE {keyed} "
            f"GROUP BY {prefix} ON CONFLICT (key) DO NOTHING"
        )
        if connection.vendor == "postgresql":
            prefix, keyed = _key_sql(connection, "n")
            cursor.execute(
                f"UPDATE {notification} n SET event_id = e.id FROM {event} e WHERE e.key = {prefix} AND {keyed}"
            )
        else:
            cursor.execute(
                f"UPDATE {notification} SET event_id = (SELECT e.id FROM {event} e WHERE e.key = {prefix}) "
                f"WHERE {keyed}"
            )


def name_keys(apps, schema_editor):
    """Back: each notification's text key again, from its event and user."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    notification = quote(apps.get_model("notifications", "Notification")._meta.db_table)
    event = quote(apps.get_model("notifications", "MessageEvent")._meta.db_table)
    user = "CAST(user_id AS TEXT)" if connection.vendor != "postgresql" else "user_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {notification} SET dedupe_key = "
            f"(SELECT e.key || ':u' || {user} FROM {event} e WHERE e.id = {notification}.event_id) "
            f"WHERE event_id IS NOT NULL"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0019_statuses_held_and_folded'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='notification',
            name='notif_created',
        ),
        migrations.AddField(
            model_name='notification',
            name='event',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='notifications', to='notifications.messageevent'),
        ),
        migrations.RunPython(name_events, name_keys, elidable=False),
        migrations.RemoveField(
            model_name='notification',
            name='dedupe_key',
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.UniqueConstraint(fields=('event', 'user'), name='notification_unique_per_event'),
        ),
    ]
