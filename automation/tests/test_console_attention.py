"""The attention budget's holds, caps and folds per day on the staff dashboard (issue 30): each message
on its recipient's local calendar day, in English and Hindi."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from lms.tests.factories import StaffUserFactory, UserFactory
from notifications.models import Delivery, DeliveryEvent
from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def staff(language: str = "en"):
    person = StaffUserFactory(language=language)
    person.user_permissions.add(*Permission.objects.filter(codename="view_delivery"))
    return person


def row_figures(page: str, day: dt.date) -> dict[str, int]:
    match = re.search(rf'<tr data-testid="attention-{day:%Y-%m-%d}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {day}"
    return {name: int(value) for name, value in re.findall(r'data-figure="(\w+)">(\d+)<', match.group(1))}


def happened(user, *, at: dt.datetime, status: str, detail: str) -> None:
    row = DeliveryFactory(recipient=user, status=status)
    DeliveryEvent.objects.create(delivery=row, at=at, status=status, detail=detail)


def test_the_dashboard_counts_holds_caps_and_folds_per_recipients_day(client):
    """At 20:00 UTC two days ago it was already the next day in India (01:30) and still that day in
    New York (15:00): each counted on its own day."""
    indian = UserFactory(timezone="Asia/Kolkata")
    new_yorker = UserFactory(timezone="America/New_York")
    moment = (timezone.now() - dt.timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    happened(new_yorker, at=moment, status=Status.PENDING, detail="held_quiet_hours: Held: quiet hours.")
    happened(indian, at=moment, status=Status.PENDING, detail="held_daily_cap: Held: the daily cap.")
    happened(indian, at=moment, status=Status.FOLDED, detail="folded_daily_cap: Folded into the digest.")
    happened(indian, at=moment, status=Status.DIGESTED, detail="digested: summed up in the digest u1@x.")
    client.force_login(staff())

    page = client.get("/admin/console/").content.decode()

    assert 'data-testid="attention-by-day"' in page
    new_york_day, indian_day = moment.date(), moment.date() + dt.timedelta(days=1)
    assert row_figures(page, new_york_day) == {
        "held": 1,
        "capped": 0,
        "folded": 0,
        "capped_or_folded": 0,
        "digested": 0,
        "expired": 0,
        "dropped": 0,
    }
    indian_row = row_figures(page, indian_day)
    assert (indian_row["held"], indian_row["capped"], indian_row["folded"]) == (0, 1, 1)
    assert (indian_row["capped_or_folded"], indian_row["digested"]) == (2, 1)


def test_the_dashboards_attention_section_reads_hindi_to_hindi_staff(client):
    happened(
        UserFactory(),
        at=timezone.now() - dt.timedelta(hours=1),
        status=Status.FOLDED,
        detail="folded_daily_cap: Folded into the digest.",
    )
    client.force_login(staff("hi"))
    page = client.get("/admin/console/").content.decode()
    assert "ध्यान बजट, पिछले 7 दिन" in page and "सीमा के कारण कुल" in page and "कुल" in page


def test_an_empty_week_says_so(client):
    client.force_login(staff())
    page = client.get("/admin/console/").content.decode()
    assert "Nothing held or folded in the last 7 days." in page
