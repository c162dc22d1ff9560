"""Migration 0011 moves the rows of the ledger as it was (a whole context per row under a text key) to
events named once, each row keeping its context as its own."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("notifications", "0010_delivery_priority")]
AFTER = [("notifications", "0011_lean_ledger")]


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
def test_existing_rows_get_their_event_and_keep_their_context_and_state(back_to_latest):
    asha_id = get_user_model().objects.create(email="asha@example.com", name="Asha Verma").pk
    old = migrate(BEFORE)
    Delivery = old.get_model("notifications", "Delivery")
    asha = old.get_model("lms", "User").objects.get(pk=asha_id)
    now = dt.datetime(2026, 11, 24, 4, 30, tzinfo=dt.UTC)
    common = {"subject_type": "lms.livesession", "subject_id": 42, "created_at": now, "next_attempt_at": now}
    Delivery.objects.create(
        kind="session_24h", channel="email", event_key="session_24h:42@20261125T0430",
        dedupe_key="session_24h:42@20261125T0430:u1", recipient=asha, to_address="asha@example.com",
        context={"title": "Python Basics", "first_name": "Asha"}, status="sent", provider_message_id="pm-1",
        rendered_text="Hi Asha", **common,
    )  # fmt: skip
    Delivery.objects.create(
        kind="session_24h", channel="whatsapp", event_key="session_24h:42@20261125T0430",
        dedupe_key="session_24h:42@20261125T0430:u1", recipient=asha, to_address="+919876543210",
        context={"title": "Python Basics"}, **common,
    )  # fmt: skip
    Delivery.objects.create(
        kind="lead_day0", channel="email", event_key="lead_day0:7", dedupe_key="lead_day0:7:ravi@example.com",
        to_address="ravi@example.com", context={"name": "Ravi", "lead_id": 7}, subject_type="leads.lead",
        subject_id=7, created_at=now, next_attempt_at=now,
    )  # fmt: skip

    new = migrate(AFTER)
    Event = new.get_model("notifications", "MessageEvent")
    Delivery = new.get_model("notifications", "Delivery")

    events = {event.key: event for event in Event.objects.all()}
    assert set(events) == {"session_24h:42@20261125T0430", "lead_day0:7"}
    session = events["session_24h:42@20261125T0430"]
    assert (session.kind, session.subject_type, session.subject_id) == ("session_24h", "lms.livesession", 42)
    rows = {row.to_address: row for row in Delivery.objects.all()}
    assert rows["asha@example.com"].event_id == rows["+919876543210"].event_id == session.pk
    assert rows["asha@example.com"].own_context == {"title": "Python Basics", "first_name": "Asha"}
    assert (rows["asha@example.com"].status, rows["asha@example.com"].provider_message_id) == ("sent", "pm-1")
    assert rows["asha@example.com"].rendered_text == "Hi Asha"
    assert rows["ravi@example.com"].event_id == events["lead_day0:7"].pk
    assert rows["ravi@example.com"].own_context == {"name": "Ravi", "lead_id": 7}
