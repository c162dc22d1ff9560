"""Meta's messaging limit: at most N people reached on WhatsApp in 24 hours; the rest wait, replies go on."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from automation.health import check_health
from notifications.models import Delivery
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.inbound import receive_whatsapp_message
from notifications.tests.helpers import plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def students(n: int):
    User = get_user_model()
    return [
        User.objects.create_user(
            email=f"s{i}@example.com",
            password=None,
            name=f"Student {i}",
            phone=f"+9198765000{i:02d}",
            whatsapp_opt_in=True,
        )
        for i in range(n)
    ]


def whatsapp(status=None):
    rows = Delivery.objects.filter(channel="whatsapp", event__kind="session_24h")
    return rows.filter(status=status) if status else rows


def test_past_the_limit_messages_to_new_numbers_wait_and_reached_numbers_and_replies_go_on(settings, whatsapp_sent):
    settings.WHATSAPP_DAILY_UNIQUE_RECIPIENTS = 2
    people = students(4)
    for person in people:
        plan_session_reminder(person, now=timezone.now())
    dispatch_due_deliveries()

    assert whatsapp(Status.SENT).count() == 2 and whatsapp(Status.PENDING).count() == 2
    assert {row.attempts for row in whatsapp(Status.PENDING)} == {0}
    assert Delivery.objects.filter(channel="email", status=Status.SENT).count() == 4  # email is not limited
    health = check_health(now=timezone.now(), max_delivery_lag=dt.timedelta(hours=1))
    assert any("limit of 2 people in 24 hours is reached; 2 message(s)" in p for p in health.problems)

    dispatch_due_deliveries()  # still held: nothing new goes to WhatsApp
    assert whatsapp(Status.SENT).count() == 2

    reached = whatsapp(Status.SENT).first().recipient
    plan_session_reminder(reached, event="43@20261126T0430", now=timezone.now())
    waiting = next(p for p in people if p.pk not in set(whatsapp(Status.SENT).values_list("recipient_id", flat=True)))
    receive_whatsapp_message(provider="meta", provider_message_id="wamid.X", from_address=waiting.phone, text="STOP")
    dispatch_due_deliveries()
    assert (
        Delivery.objects.get(
            event__kind="session_24h", channel="whatsapp", recipient=reached, event__key__contains="43@"
        ).status
        == Status.SENT
    )
    assert Delivery.objects.get(event__kind="whatsapp_stopped").status == Status.SENT  # a reply is not limited

    # A day later the window has moved: the waiting ones go.
    Delivery.objects.filter(handed_over_at__isnull=False).update(handed_over_at=timezone.now() - dt.timedelta(hours=25))
    dispatch_due_deliveries()
    assert whatsapp(Status.PENDING).count() == 0


def handed_over(numbers: list[str], at: dt.datetime) -> None:
    """WhatsApp rows to `numbers` handed to the provider at `at` (students made for them)."""
    from notifications.tests.factories import DeliveryFactory, UserFactory

    User = get_user_model()
    for number in numbers:
        recipient = User.objects.filter(phone=number).first() or UserFactory(phone=number, whatsapp_opt_in=True)
        DeliveryFactory(
            channel="whatsapp",
            recipient=recipient,
            status=Status.SENT,
            handed_over_at=at,
        )


def test_without_redis_a_claim_far_from_the_limit_adds_the_rows_handed_over_since_the_last_exact_count(
    settings, django_assert_max_num_queries
):
    from notifications.services.dispatch.limits import RECOUNT_EVERY, new_recipients_left

    settings.WHATSAPP_DAILY_UNIQUE_RECIPIENTS = 100
    now = timezone.now()
    handed_over(["+919876500001", "+919876500002"], now - dt.timedelta(hours=2))
    assert new_recipients_left(now=now) == 98  # an exact count, kept

    # The same number again and a new one: the kept count adds both rows, one query, no distinct count.
    handed_over(["+919876500001", "+919876500003"], now)
    with django_assert_max_num_queries(1) as queries:
        assert new_recipients_left(now=now + dt.timedelta(seconds=5)) == 96  # errs low: 97 are left
    assert "DISTINCT" not in queries.captured_queries[0]["sql"].upper()

    # A row stamped a little before the count but committed after it is counted too.
    handed_over(["+919876500004"], now - dt.timedelta(seconds=30))
    assert new_recipients_left(now=now + dt.timedelta(seconds=6)) == 95

    # The count is made again once it is RECOUNT_EVERY old: exact again (4 numbers).
    assert new_recipients_left(now=now + RECOUNT_EVERY) == 96


def test_without_redis_near_the_limit_every_claim_counts_exactly(settings):
    from notifications.services.dispatch.limits import new_recipients_left

    settings.WHATSAPP_DAILY_UNIQUE_RECIPIENTS = 10
    now = timezone.now()
    handed_over([f"+9198765000{i:02d}" for i in range(8)], now - dt.timedelta(hours=1))
    assert new_recipients_left(now=now) == 2
    handed_over(["+919876500000", "+919876500001"], now)  # numbers already reached
    assert new_recipients_left(now=now + dt.timedelta(seconds=1)) == 2  # not 0: counted again


def test_without_redis_a_kept_count_is_not_used_for_an_earlier_time(settings):
    from notifications.services.dispatch.limits import new_recipients_left

    settings.WHATSAPP_DAILY_UNIQUE_RECIPIENTS = 100
    now = timezone.now()
    assert new_recipients_left(now=now) == 100
    handed_over(["+919876500001"], now - dt.timedelta(minutes=5))
    assert new_recipients_left(now=now - dt.timedelta(minutes=1)) == 99


def test_a_claim_with_room_for_all_its_numbers_does_not_look_up_which_were_reached(settings, django_assert_num_queries):
    from notifications.services.dispatch.limits import over_limit
    from notifications.tests.factories import DeliveryFactory

    settings.WHATSAPP_DAILY_UNIQUE_RECIPIENTS = 100
    now = timezone.now()
    handed_over(["+919876500001"], now - dt.timedelta(hours=1))
    claimed = [DeliveryFactory(channel="whatsapp", to_address=f"+91987650000{i}") for i in (1, 2, 3)]
    with django_assert_num_queries(0):
        assert over_limit(claimed, left=3, now=now) == []  # were all three new, the limit has room
    with django_assert_num_queries(1):
        assert over_limit(claimed, left=1, now=now) == [claimed[2]]  # 1 reached, 2 new: room for one
