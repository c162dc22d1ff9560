"""Set-based planning makes exactly the rows plan_messages() makes, once, on SQLite and PostgreSQL."""

import datetime as dt
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F

from notifications.models import Delivery, MessageEvent, MessageGroup, Notification
from notifications.services import audiences
from notifications.services.audiences import Audience, Group, plan_audience
from notifications.services.planning import PlannedMessage, Recipient, plan_messages

from .helpers import NOW

pytestmark = pytest.mark.django_db
EXPIRES = NOW + dt.timedelta(hours=20)
KIND = "session_24h"  # email, WhatsApp and in-app


@pytest.fixture
def people():
    User = get_user_model()
    people = [
        User.objects.create_user(
            email="Asha@Example.com", password=None, name="Asha Verma", phone="+919876543210", whatsapp_opt_in=True
        ),
        User.objects.create_user(email="ravi@example.com", password=None, name="Ravi", timezone="Europe/London"),
        User.objects.create_user(
            email="meera@example.com", password=None, name="", phone="+919812345678", whatsapp_opt_in=False
        ),
        User.objects.create_user(email="kiran@example.com", password=None, name="Kiran Das", whatsapp_opt_in=True),
    ]
    with connection.cursor() as cursor:  # a number from before numbers were checked (the field refuses it now)
        cursor.execute(f"UPDATE {User._meta.db_table} SET phone = '12345' WHERE id = %s", [people[-1].pk])
    return people


def shared_context(tz: str) -> dict:
    return {"title": "Python Basics", "when": f"10:00 in {tz}", "day_label": "Tomorrow", "day_phrase": "tomorrow"}


def audience(*, skip_zone: str | None = None) -> Audience:
    def make_group(row):
        if row["timezone"] == skip_zone:
            return None
        return Group(
            event_key="42@20261125T0430",
            subject_id=42,
            expires_at=EXPIRES,
            link="https://meet.example.com/python",
            context=shared_context(row["timezone"]),
        )

    rows = get_user_model().objects.values(
        "email", "phone", "whatsapp_opt_in", "name", "timezone", recipient_id=F("pk")
    )
    return Audience(rows=rows, group_by=("timezone",), make_group=make_group, subject_type="tests.event")


def one_by_one(people):
    return [
        PlannedMessage(
            recipient=Recipient.for_user(person),
            event_key="42@20261125T0430",
            context=shared_context(person.timezone),
            subject_type="tests.event",
            subject_id=42,
            link="https://meet.example.com/python",
            expires_at=EXPIRES,
        )
        for person in people
    ]


def ledger() -> tuple[list, list]:
    # What each row means (the two paths store it differently: the audience's shared context once per group).
    names = (
        "kind", "channel", "dedupe_key", "event_key", "subject_type", "subject_id", "recipient_id", "to_address",
        "context", "status", "attempts", "next_attempt_at", "expiry", "created_at", "rendered_subject",
    )  # fmt: skip
    rows = Delivery.objects.select_related("event", "group", "recipient")
    deliveries = sorted(
        ({name: getattr(row, name) for name in names} for row in rows), key=lambda d: (d["channel"], d["dedupe_key"])
    )
    notifications = Notification.objects.order_by("event__key", "user_id").values(
        "user_id", "kind", "title", "message", "link", "read_at", "created_at", "event__key"
    )
    return deliveries, list(notifications)


def test_an_audience_makes_the_same_rows_as_planning_one_by_one(people):
    one = plan_messages(kind=KIND, messages=one_by_one(get_user_model().objects.order_by("pk")), now=NOW)
    expected = ledger()
    Delivery.objects.all().delete()
    Notification.objects.all().delete()

    result = plan_audience(kind=KIND, audience=audience(), now=NOW)

    assert ledger() == expected
    assert result.planned == one.planned == {"email": 4, "whatsapp": 1, "inapp": 4}
    deliveries, notifications = expected
    assert {d["context"]["first_name"] for d in deliveries} == {"Asha", "Ravi", "there", "Kiran"}
    assert notifications[0]["title"] == "Starts Tomorrow: Python Basics"


def test_what_a_group_shares_is_stored_once_and_each_row_keeps_only_its_own(people):
    plan_audience(kind=KIND, audience=audience(), now=NOW)

    event = MessageEvent.objects.get()
    assert (event.key, event.kind, event.subject_id) == (f"{KIND}:42@20261125T0430", KIND, 42)
    groups = {group.context["when"]: group for group in MessageGroup.objects.all()}
    assert set(groups) == {"10:00 in Asia/Kolkata", "10:00 in Europe/London"}  # one per zone, not per person
    assert {group.expires_at for group in groups.values()} == {EXPIRES}
    rows = Delivery.objects.select_related("event", "group", "recipient")
    assert {row.event_id for row in rows} == {event.pk}
    assert all(row.own_context is None and row.expires_at is None for row in rows)  # an account's name is its own
    ravi = rows.get(to_address="ravi@example.com")
    assert ravi.group == groups["10:00 in Europe/London"]
    assert ravi.context["first_name"] == "Ravi" and ravi.context["when"] == "10:00 in Europe/London"
    assert ravi.expiry == EXPIRES


def test_people_without_an_account_keep_their_name_and_are_known_by_address():
    leads = [("lead1@example.com", "Lead One"), ("lead2@example.com", "Lead Two")]
    messages = [
        PlannedMessage(recipient=Recipient(user_id=None, email=email, name=name), event_key="7", context={"x": 1})
        for email, name in leads
    ]
    first = plan_messages(kind="lead_day0", messages=messages, now=NOW)
    again = plan_messages(kind="lead_day0", messages=messages, now=NOW)

    assert first.planned["email"] == 2 and again.planned["email"] == 0
    row = Delivery.objects.get(to_address="lead2@example.com")
    assert row.recipient_id is None and row.own_context["name"] == "Lead Two"
    assert row.context["first_name"] == "Lead"


def test_planning_an_audience_again_or_after_one_by_one_makes_nothing_new(people):
    plan_messages(kind=KIND, messages=one_by_one(people[:2]), now=NOW)
    first = plan_audience(kind=KIND, audience=audience(), now=NOW)
    again = plan_audience(kind=KIND, audience=audience(), now=NOW)

    assert first.planned == {"email": 2, "whatsapp": 0, "inapp": 2}  # the two not planned before
    assert again.total == 0
    assert Delivery.objects.count() == 5


def test_a_dry_run_counts_and_lists_what_a_run_would_plan_and_makes_nothing(people):
    plan_messages(kind=KIND, messages=one_by_one(people[:1]), now=NOW)

    result = plan_audience(kind=KIND, audience=audience(), now=NOW, dry_run=True)

    assert result.planned == {"email": 3, "whatsapp": 0, "inapp": 3}
    assert sorted(result.preview) == [
        (KIND, "email", "kiran@example.com", "42@20261125T0430"),
        (KIND, "email", "meera@example.com", "42@20261125T0430"),
        (KIND, "email", "ravi@example.com", "42@20261125T0430"),
    ]
    assert Delivery.objects.count() == 2 and Notification.objects.count() == 1


def test_a_group_the_rule_declines_is_not_planned_this_run(people):
    result = plan_audience(kind=KIND, audience=audience(skip_zone="Europe/London"), now=NOW)

    assert result.planned["email"] == 3
    assert not Delivery.objects.filter(to_address="ravi@example.com").exists()


def test_an_empty_audience_plans_nothing_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        result = plan_audience(kind=KIND, audience=audience(), now=NOW)
    assert result.total == 0


def test_groups_planned_in_several_statements_make_the_same_rows_and_counts(people, monkeypatch):
    one = plan_messages(kind=KIND, messages=one_by_one(get_user_model().objects.order_by("pk")), now=NOW)
    expected = ledger()
    Delivery.objects.all().delete()
    Notification.objects.all().delete()
    monkeypatch.setattr(audiences, "GROUPS_PER_STATEMENT", 1)  # two zones: two sets of statements

    dry = plan_audience(kind=KIND, audience=audience(), now=NOW, dry_run=True)
    result = plan_audience(kind=KIND, audience=audience(), now=NOW)

    assert ledger() == expected
    assert dry.planned == result.planned == one.planned
    assert len(dry.preview) == 5  # four emails and one WhatsApp message


def test_an_audience_counts_the_same_skips_as_planning_one_by_one_once_per_event(people):
    one = plan_messages(kind=KIND, messages=one_by_one(get_user_model().objects.order_by("pk")), now=NOW)
    Delivery.objects.all().delete()
    Notification.objects.all().delete()

    dry = plan_audience(kind=KIND, audience=audience(), now=NOW, dry_run=True)
    result = plan_audience(kind=KIND, audience=audience(), now=NOW)
    again = plan_audience(kind=KIND, audience=audience(), now=NOW)

    # Ravi and Meera have not opted in to WhatsApp; Kiran has, with a number that is no number.
    expected = Counter(whatsapp_not_opted_in=2, whatsapp_invalid_number=1)
    assert dry.skipped == result.skipped == one.skipped == expected
    assert again.skipped == Counter()  # skipped once, as planned once


def test_both_planning_paths_let_the_recipients_own_name_win_over_the_events_context(people):
    def clashing(row_or_zone):
        return {**shared_context("UTC"), "name": "Python Basics", "first_name": "Python"}

    messages = one_by_one(people)
    for message in messages:
        message.context.update(clashing(None))
    plan_messages(kind=KIND, messages=messages, now=NOW)
    expected = ledger()
    Delivery.objects.all().delete()
    Notification.objects.all().delete()
    rows = get_user_model().objects.values("email", "phone", "whatsapp_opt_in", "name", recipient_id=F("pk"))
    shared = Group(
        event_key="42@20261125T0430",
        subject_id=42,
        expires_at=EXPIRES,
        link="https://meet.example.com/python",
        context=clashing(None),
    )
    plan_audience(
        kind=KIND,
        audience=Audience(rows=rows, group_by=(), make_group=lambda row: shared, subject_type="tests.event"),
        now=NOW,
    )

    assert ledger()[0] == expected[0]
    names = {d["to_address"]: d["context"]["first_name"] for d in expected[0] if d["channel"] == "email"}
    assert names == {"asha@example.com": "Asha", "ravi@example.com": "Ravi", "meera@example.com": "there",
                     "kiran@example.com": "Kiran"}  # fmt: skip
