"""insert_ignoring_conflicts: what it makes, what it skips, and the ids it says it made (SQLite and PostgreSQL)."""

import datetime as dt
import uuid

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from common import db
from common.db import insert_ignoring_conflicts
from notifications.models import Delivery, MessageEvent, MessageGroup, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def event():
    return MessageEvent.objects.create(kind="test", key="test:1")


def delivery(n: int, **fields) -> dict:
    """A ledger row of the one test event to a person without an account: unique by its address."""
    return {
        "event_id": MessageEvent.objects.get(key="test:1").pk,
        "channel": "email",
        "to_address": f"user{n}@example.com",
        **fields,
    }


def addresses(ids) -> set[tuple[str, str]]:
    return set(Delivery.objects.filter(pk__in=ids).values_list("channel", "to_address"))


def test_rows_that_hit_the_unique_key_are_skipped_and_only_new_ids_are_returned(student):
    old = insert_ignoring_conflicts(Delivery, [delivery(1), delivery(2)], any_conflict=True)

    made = insert_ignoring_conflicts(
        Delivery, [delivery(2), delivery(3), delivery(1), delivery(4, channel="whatsapp")], any_conflict=True
    )

    assert len(old) == 2 and len(made) == 2
    assert sorted(made) == sorted(Delivery.objects.exclude(pk__in=old).values_list("pk", flat=True))
    assert addresses(made) == {("email", "user3@example.com"), ("whatsapp", "user4@example.com")}
    assert Delivery.objects.count() == 4


def test_a_key_repeated_within_one_call_is_made_once_the_first_time(student):
    made = insert_ignoring_conflicts(
        Delivery,
        [
            delivery(1, recipient_id=student.pk, to_address="first@example.com"),
            delivery(1, recipient_id=student.pk, to_address="second@example.com"),
        ],
        any_conflict=True,
    )
    assert len(made) == 1
    assert Delivery.objects.get(pk=made[0]).to_address == "first@example.com"


def test_nulls_json_datetimes_uuids_and_defaults_are_stored_as_given(student):
    expires = dt.datetime(2026, 11, 25, 4, 30, 15, 123456, tzinfo=dt.UTC)
    token = uuid.uuid4()
    context = {"lead_id": 7, "n": [1, 2], "it's": "ok"}
    before = timezone.now()
    strange = 'quote " and \\ back, {brace} and comma'
    made = insert_ignoring_conflicts(
        Delivery,
        [
            delivery(1, recipient_id=student.pk, own_context=context, expires_at=expires),
            delivery(2, claim_token=token, own_context=None, expires_at=None),
            delivery(3, to_address=strange, own_context={"nested": {"x": None}}),
            delivery(4, rendered_subject="Namaste, José 🙏", own_context={"city": "München", "n": 1.5}),
        ],
        any_conflict=True,
    )
    first, second, third, fourth = (
        Delivery.objects.get(to_address=address)
        for address in ("user1@example.com", "user2@example.com", strange, "user4@example.com")
    )
    assert sorted(made) == sorted([first.pk, second.pk, third.pk, fourth.pk])
    assert (first.recipient, first.own_context, first.expires_at) == (student, context, expires)
    assert (second.recipient, second.own_context, second.claim_token, second.expires_at) == (None, None, token, None)
    assert third.own_context == {"nested": {"x": None}}
    assert (fourth.rendered_subject, fourth.own_context) == ("Namaste, José 🙏", {"city": "München", "n": 1.5})
    # Missing fields take their defaults.
    assert (first.status, first.attempts, second.claim_token, first.claim_token) == ("pending", 0, token, None)
    assert first.next_attempt_at >= before and first.updated_at is None


def test_rows_that_are_all_alike_are_all_made(student):
    rows = [{"user_id": student.pk, "kind": "test", "title": "Hello"}] * 3
    made = insert_ignoring_conflicts(Notification, rows)
    assert len(made) == 3 and Notification.objects.filter(pk__in=made, title="Hello").count() == 3


def test_many_rows_over_several_statements_return_every_new_id(monkeypatch):
    monkeypatch.setattr(db, "POSTGRESQL_ROWS", 7)
    insert_ignoring_conflicts(Delivery, [delivery(n) for n in range(0, 50, 5)], any_conflict=True)

    made = insert_ignoring_conflicts(Delivery, [delivery(n) for n in range(50)], any_conflict=True)

    assert len(made) == 40 == len(set(made))
    assert addresses(made) == {("email", f"user{n}@example.com") for n in range(50) if n % 5}


def test_without_conflict_fields_a_conflict_is_an_error_and_nothing_is_made():
    insert_ignoring_conflicts(Delivery, [delivery(1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_ignoring_conflicts(Delivery, [delivery(2), delivery(1)])
    assert list(Delivery.objects.values_list("to_address", flat=True)) == ["user1@example.com"]


def test_none_is_null_in_a_json_column_so_a_required_one_refuses_it(event):
    rows = [
        {"event_id": event.pk, "digest": "a", "context": {}},
        {"event_id": event.pk, "digest": "b", "context": None},
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_ignoring_conflicts(MessageGroup, rows)
    assert not MessageGroup.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce varchar lengths")
def test_a_value_longer_than_its_column_is_refused_not_cut():
    with pytest.raises(DataError), transaction.atomic():
        insert_ignoring_conflicts(Delivery, [delivery(1, channel="c" * 17)])
    assert not Delivery.objects.exists()


def test_no_rows_make_nothing():
    assert insert_ignoring_conflicts(Delivery, [], any_conflict=True) == []


def test_the_any_lookup_matches_a_list_of_values_as_in_does():
    from django.contrib.auth import get_user_model

    from notifications.models import NotificationPreference, Suppression

    for address in ("a@example.com", "b@example.com", "c@example.com"):
        Suppression.objects.create(channel="email", address=address, reason="bounced")
    users = [get_user_model().objects.create_user(email=f"u{n}@example.com", name="U") for n in range(2)]
    NotificationPreference.objects.create(user=users[0], topic="reminders", channel="email", enabled=False)

    wanted = {"a@example.com", "c@example.com", None}
    assert set(Suppression.objects.filter(address__any=wanted).values_list("address", flat=True)) == wanted - {None}
    assert Suppression.objects.filter(address__any=[]).count() == 0
    assert Suppression.objects.exclude(address__any=["a@example.com"]).count() == 2
    ids = [s.pk for s in Suppression.objects.all()[:2]]
    assert sorted(Suppression.objects.filter(pk__any=ids).values_list("pk", flat=True)) == sorted(ids)
    # Foreign keys: by id and by instance.
    assert NotificationPreference.objects.filter(user_id__any={users[0].pk}).count() == 1
    assert NotificationPreference.objects.filter(user__any=users).count() == 1
    assert NotificationPreference.objects.filter(user_id__any=[users[1].pk]).count() == 0


def test_update_returning_ids_says_which_rows_it_changed_and_checks_the_guard_on_each_row():
    from notifications.models import Suppression

    bounced = Suppression.objects.create(channel="email", address="a@example.com", reason="bounced")
    Suppression.objects.create(channel="email", address="b@example.com", reason="complained")
    Suppression.objects.create(channel="whatsapp", address="+919876543210", reason="bounced")

    changed = db.update_returning_ids(
        Suppression.objects.filter(channel="email"), guard={"reason": "bounced"}, reason="manual", detail="by staff"
    )

    assert changed == [bounced.pk]
    assert dict(Suppression.objects.values_list("address", "reason")) == {
        "a@example.com": "manual",
        "b@example.com": "complained",
        "+919876543210": "bounced",
    }
    assert db.update_returning_ids(Suppression.objects.none(), reason="manual") == []
