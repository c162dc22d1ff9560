"""Migration 0017 keys the in-app rows as the ledger's: (event, user) naming a MessageEvent, where a text
dedupe key was; existing rows get their event (made when no delivery made it), and going back gives
each its text key again."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("notifications", "0019_statuses_held_and_folded")]
AFTER = [("notifications", "0020_lean_inapp")]
NOW = dt.datetime(2026, 11, 24, 4, 30, tzinfo=dt.UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_latest():
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_notifications_get_their_event_and_going_back_gives_their_key(back_to_latest):
    users = get_user_model().objects
    asha_id = users.create(email="asha@example.com", name="Asha Verma").pk
    ravi_id = users.create(email="ravi@example.com", name="Ravi Rao").pk
    old = migrate(BEFORE)
    Event = old.get_model("notifications", "MessageEvent")
    Notification = old.get_model("notifications", "Notification")
    session = Event.objects.create(
        kind="session_24h", key="session_24h:42@20261125T0430", subject_type="lms.livesession", subject_id=42
    )
    common = {"kind": "session_24h", "title": "Starts Tomorrow: Python", "created_at": NOW}
    Notification.objects.create(user_id=asha_id, dedupe_key=f"{session.key}:u{asha_id}", **common)
    Notification.objects.create(user_id=ravi_id, dedupe_key=f"{session.key}:u{ravi_id}", read_at=NOW, **common)
    # An in-app-only event no delivery named: made from the key.
    Notification.objects.create(
        user_id=asha_id, kind="recording_available", title="Recording", dedupe_key=f"recording_available:7:u{asha_id}"
    )
    Notification.objects.create(user_id=ravi_id, kind="test", title="A staff test")  # no key

    new = migrate(AFTER)
    Event = new.get_model("notifications", "MessageEvent")
    Notification = new.get_model("notifications", "Notification")

    events = {event.key: event for event in Event.objects.all()}
    assert set(events) == {"session_24h:42@20261125T0430", "recording_available:7"}
    assert events["session_24h:42@20261125T0430"].pk == session.pk  # the delivery's event, not a second one
    assert (events["recording_available:7"].kind, events["recording_available:7"].subject_type) == (
        "recording_available",
        "",
    )
    rows = {(row.user_id, row.kind): row for row in Notification.objects.all()}
    assert rows[asha_id, "session_24h"].event_id == rows[ravi_id, "session_24h"].event_id == session.pk
    assert rows[ravi_id, "session_24h"].read_at == NOW
    assert rows[asha_id, "recording_available"].event_id == events["recording_available:7"].pk
    assert rows[ravi_id, "test"].event_id is None
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(user_id=asha_id, kind="session_24h", title="Again", event_id=session.pk)

    old = migrate(BEFORE)
    keys = set(old.get_model("notifications", "Notification").objects.values_list("user_id", "kind", "dedupe_key"))
    assert keys == {
        (asha_id, "session_24h", f"{session.key}:u{asha_id}"),
        (ravi_id, "session_24h", f"{session.key}:u{ravi_id}"),
        (asha_id, "recording_available", f"recording_available:7:u{asha_id}"),
        (ravi_id, "test", None),
    }
