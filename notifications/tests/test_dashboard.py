"""The console's figures per day equal the ledger's, before and after retention folds old rows into daily counts."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.api import daily_delivery_figures, figures_by
from notifications.models import Delivery, DeliveryDailyCount
from notifications.services.retention import purge_old_deliveries
from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db
Status = Delivery.Status
TODAY = timezone.now().astimezone(dt.UTC).date()
SINCE = TODAY - dt.timedelta(days=89)
# What each figure means, by the ledger's statuses (a message opened was also delivered and sent).
MEANS = {
    "planned": set(Status.values),
    "sent": {Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED},
    "delivered": {Status.DELIVERED, Status.OPENED, Status.CLICKED},
    "opened": {Status.OPENED, Status.CLICKED},
    "clicked": {Status.CLICKED},
    "failed": {Status.FAILED},
    "bounced": {Status.BOUNCED, Status.COMPLAINED},
    "unknown": {Status.UNKNOWN},
}


def at(days_ago: int, hour: int = 10) -> dt.datetime:
    day = TODAY - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def ledger():
    """Rows over 90 days: statuses, two kinds, both channels, a WhatsApp cost, a test send, one too old."""
    plan = [
        (1, "session_24h", "email", Status.SENT),
        (1, "session_24h", "email", Status.OPENED),
        (1, "session_24h", "email", Status.CLICKED),
        (1, "session_24h", "email", Status.FAILED),
        (2, "session_24h", "whatsapp", Status.DELIVERED),
        (2, "session_24h", "whatsapp", Status.FAILED),
        (2, "payment_reminder", "email", Status.BOUNCED),
        (2, "payment_reminder", "email", Status.COMPLAINED),
        (5, "payment_reminder", "whatsapp", Status.SENT),
        (5, "payment_reminder", "email", Status.UNKNOWN),
        (40, "session_24h", "email", Status.DELIVERED),
        (80, "session_24h", "whatsapp", Status.SENT),
        (80, "session_24h", "email", Status.EXPIRED),
        (0, "session_24h", "email", Status.PENDING),
        (0, "session_24h", "email", Status.HELD),
    ]
    for days_ago, kind, channel, status in plan:
        cost = Decimal("0.7846") if channel == "whatsapp" and status in MEANS["sent"] else None
        DeliveryFactory(kind=kind, channel=channel, status=status, created_at=at(days_ago), cost=cost)
    DeliveryFactory(status=Status.SENT, created_at=at(1), is_test=True)  # a staff test send: not counted
    DeliveryFactory(status=Status.SENT, created_at=at(120))  # before the period
    return plan


def ledger_figures() -> dict:
    """The figures by hand from the ledger's rows, per (day, kind, channel)."""
    expected = defaultdict(lambda: dict.fromkeys(MEANS, 0) | {"cost": Decimal("0")})
    for row in Delivery.objects.filter(is_test=False, created_at__date__gte=SINCE).select_related("event"):
        item = expected[row.created_at.astimezone(dt.UTC).date(), row.kind, row.channel]
        for figure, statuses in MEANS.items():
            item[figure] += row.status in statuses
        item["cost"] += row.cost or 0
    return dict(expected)


def console_figures() -> dict:
    return {
        (row.day, row.kind, row.channel): {**row.counts, "cost": row.cost}
        for row in daily_delivery_figures(since=SINCE, until=TODAY)
    }


def test_the_figures_per_day_kind_and_channel_equal_the_ledgers(ledger):
    expected = ledger_figures()

    assert console_figures() == expected
    assert expected[TODAY - dt.timedelta(days=1), "session_24h", "email"] == {
        "planned": 4,
        "sent": 3,
        "delivered": 2,
        "opened": 2,
        "clicked": 1,
        "failed": 1,
        "bounced": 0,
        "unknown": 0,
        "cost": Decimal("0"),
    }


def test_the_figures_stay_the_same_after_retention_removes_the_rows(ledger, settings):
    expected = ledger_figures()
    # Retention as run long after: every finished row of the period is folded into daily counts.
    result = purge_old_deliveries(now=timezone.now() + dt.timedelta(days=200))

    # Every finished session reminder went (payment reminders stay while their payment is unpaid).
    live = {Status.PENDING, Status.HELD, Status.UNKNOWN}
    assert result.outcomes["deliveries"] == 11
    assert set(Delivery.objects.filter(event__kind="session_24h").values_list("status", flat=True)) == live - {
        Status.UNKNOWN
    }
    assert DeliveryDailyCount.objects.exists()
    assert console_figures() == expected


def test_per_channel_totals_cover_every_day_of_the_period(ledger):
    rows = daily_delivery_figures(since=TODAY - dt.timedelta(days=6), until=TODAY)
    by_channel = figures_by(rows, key="channel", since=TODAY - dt.timedelta(days=6), until=TODAY)

    assert set(by_channel) == {"email", "whatsapp"}
    assert all(len(days) == 7 for days in by_channel.values())
    whatsapp = by_channel["whatsapp"]
    assert sum(day.counts["sent"] for day in whatsapp) == 2
    assert sum(day.counts["failed"] for day in whatsapp) == 1
    assert sum(day.cost for day in whatsapp) == Decimal("1.5692")
    assert sum(day.counts["sent"] for day in by_channel["email"]) == 3
