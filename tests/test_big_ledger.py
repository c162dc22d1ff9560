"""bench.big_ledger's small mode against the test database: the history it generates in SQL is the app's own
layout (the app reads it, claims it, shows it on the page and purges it), and its indexes are made again
exactly as the migrations made them."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench import big_ledger
from lms.tests.factories import UserFactory
from notifications.conf import conf
from notifications.models import Delivery, DeliveryEvent, MessageEvent, Notification
from notifications.services.dispatch.claim import claim_due_deliveries
from notifications.services.inapp import get_notifications_page, get_unread_notification_count
from notifications.services.retention import purge_old_deliveries

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

DAYS = 3
ROWS_PER_DAY = 2_000


@pytest.fixture
def history():
    students = UserFactory.create_batch(20, whatsapp_opt_in=True)
    UserFactory.create_batch(20)  # not opted in: email and in-app only
    now = timezone.now().replace(microsecond=0)
    with connection.cursor() as cursor:
        big_ledger.generate_history(cursor, days=DAYS, rows_per_day=ROWS_PER_DAY, now=now)
    return now, students


def test_the_days_rows_are_made_in_the_apps_layout(history):
    now, _ = history
    rows = Delivery.objects.count() + Notification.objects.count()
    assert DAYS * ROWS_PER_DAY * 0.8 <= rows <= DAYS * ROWS_PER_DAY * 1.2
    assert DeliveryEvent.objects.count() == Delivery.objects.count()  # a history event each
    assert set(MessageEvent.objects.values_list("kind", flat=True).distinct()) == {
        "session_24h",
        "session_15min",
        "lead_day3",
    }
    assert Delivery.objects.filter(channel="whatsapp").exists()
    assert Delivery.objects.filter(recipient__isnull=True, channel="email").exists()  # leads, keyed by address
    # Spread over the days before now, every row's life over (the newest few waiting for the provider's word).
    oldest = Delivery.objects.order_by("created_at").first().created_at
    assert now - dt.timedelta(days=DAYS) <= oldest < now - dt.timedelta(days=DAYS - 1)
    assert not Delivery.objects.filter(created_at__gte=now).exists()
    assert {"delivered", "opened", "failed"} <= set(Delivery.objects.values_list("status", flat=True).distinct())
    # The app reads a row as dispatch and the admin do: its event's kind, its group's context and its own.
    row = Delivery.objects.filter(event__kind="session_24h", channel="email").first()
    assert row.kind == "session_24h"
    assert row.context["student_id"] == row.recipient_id
    assert row.context["join_url"].startswith("https://")
    assert row.expiry is not None


def test_the_app_claims_shows_and_purges_the_generated_rows(history, settings):
    now, students = history
    reader = students[0]
    # The page and the badge read the generated in-app rows (their markers become words).
    page = get_notifications_page(user=reader)
    assert page.notifications
    client = Client()
    client.force_login(reader)
    response = client.get("/notifications/")
    assert response.status_code == 200
    assert "[[" not in response.content.decode()
    assert get_unread_notification_count(user=reader) == reader.notifications.filter(read_at__isnull=True).count()

    # Dispatch claims generated rows put back in the queue, with their events and groups.
    queued = list(Delivery.objects.filter(channel="email", recipient__isnull=False).values_list("id", flat=True)[:5])
    Delivery.objects.filter(id__in=queued).update(status="pending", next_attempt_at=now, attempts=0)
    claimed = claim_due_deliveries(now=now, limit=10)
    assert sorted(row.id for row in claimed) == sorted(queued)
    assert all(row.context["title"] for row in claimed)

    # Retention purges the oldest day, with its history, and nothing younger.
    oldest = Delivery.objects.order_by("created_at").first().created_at
    cutoff = oldest + dt.timedelta(days=1)
    old = Delivery.objects.filter(created_at__lt=cutoff).exclude(status__in=["pending", "sending", "unknown"])
    expected = old.count()
    assert expected
    result = purge_old_deliveries(now=cutoff + dt.timedelta(days=conf.retention_days))
    assert result.outcomes["deliveries"] == expected
    assert not Delivery.objects.filter(created_at__lt=cutoff).exclude(id__in=queued).exists()
    assert Delivery.objects.filter(created_at__gte=cutoff).exists()
    assert DeliveryEvent.objects.count() == Delivery.objects.count()


def test_the_indexes_are_made_again_as_the_migrations_made_them(db):
    with connection.cursor() as cursor:
        before = big_ledger.ledger_indexes(cursor)
        big_ledger.drop_indexes(cursor, before)
        assert big_ledger.ledger_indexes(cursor) == []
        big_ledger.create_indexes(cursor, before)
        after = big_ledger.ledger_indexes(cursor)
    # The same definitions, as PostgreSQL prints them back (it may place an array's casts apart).
    assert {name: _plain(statement) for _, name, statement in after} == {
        name: _plain(statement) for _, name, statement in before
    }
    names = {name for _, name, _ in before}
    assert {"delivery_unique_per_recipient", "delivery_due_in_order", "notif_user_unread"} <= names


def _plain(statement: str) -> str:
    return re.sub(r"::[a-z ]+(\[\])?|[()\s]", "", statement)
