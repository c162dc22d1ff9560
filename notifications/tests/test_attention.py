"""The attention budget on the real ledger (issue 30): quiet hours in the student's zone, critical
messages never held, the daily cap folding into a digest sent at the student's hour in their
language, and every hold and fold on the row's history."""

import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from notifications.attention_counts import attention_counts
from notifications.kinds import CRITICAL, LOW, NORMAL, get_kind
from notifications.models import AttentionPreference, Delivery, DeliveryEvent, Notification
from notifications.services.attention import allowed_from, budget_of
from notifications.services.digest import plan_digests
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages

from .helpers import plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status
IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def ist(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=IST).astimezone(dt.UTC)


def history(row: Delivery) -> list[str]:
    return list(DeliveryEvent.objects.filter(delivery=row).values_list("detail", flat=True))


def plan_recordings(user, count: int, *, now: dt.datetime, first: int = 0) -> None:
    plan_messages(
        kind="recording_available",
        now=now,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(user),
                event_key=f"rec-{n}",
                context={"session_title": f"Lesson {n}", "watch_url": f"https://example.com/watch/{n}"},
                link=f"/recordings/{n}/",
            )
            for n in range(first, first + count)
        ],
    )


def test_urgency_classes_follow_the_issue():
    assert get_kind("session_15min").urgency_class == CRITICAL
    assert get_kind("set_password_link").urgency_class == CRITICAL  # account and security
    assert get_kind("session_24h").urgency_class == NORMAL
    assert get_kind("payment_reminder").urgency_class == NORMAL
    assert get_kind("lead_day3").urgency_class == LOW
    assert get_kind("attention_digest").urgency_class == CRITICAL


def test_a_24h_reminder_planned_at_two_at_night_goes_at_eight(student):
    planned_at = ist(24, 2)
    plan_session_reminder(student, now=planned_at, expires_at=ist(25, 2))
    dispatch_due_deliveries(now=planned_at)
    assert mail.outbox == []
    email = Delivery.objects.get(channel="email")
    assert email.status == Status.PENDING and email.next_attempt_at == ist(24, 8)
    assert Delivery.objects.filter(event=email.event).count() == 2  # still one row per channel
    dispatch_due_deliveries(now=ist(24, 7, 59))
    assert mail.outbox == []
    dispatch_due_deliveries(now=ist(24, 8))
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == Status.SENT and email.attempts == 1
    assert any(detail.startswith("held_quiet_hours") and "21:00-08:00" in detail for detail in history(email))


def test_a_starting_soon_reminder_goes_at_two_for_a_class_at_two_fifteen(student):
    now = ist(24, 2)
    plan_messages(
        kind="session_15min",
        now=now,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(student),
                event_key="42@starting-soon",
                context={"title": "Night class", "join_url": "https://meet.example.com/x"},
                expires_at=ist(24, 2, 15),
            )
        ],
    )
    dispatch_due_deliveries(now=now)
    assert len(mail.outbox) == 1
    email = Delivery.objects.get(channel="email")
    assert email.status == Status.SENT and not any("held" in detail for detail in history(email))


def test_a_reminder_whose_class_comes_before_quiet_hours_end_goes_an_hour_before_it(student):
    now = ist(24, 2)
    plan_session_reminder(student, now=now, expires_at=ist(24, 7, 30))
    dispatch_due_deliveries(now=now)
    email = Delivery.objects.get(channel="email")
    assert email.status == Status.PENDING and email.next_attempt_at == ist(24, 6, 30)
    assert any(detail.startswith("held_before_moment") for detail in history(email))
    dispatch_due_deliveries(now=ist(24, 6, 30))
    assert len(mail.outbox) == 1


def test_a_students_own_quiet_hours_in_their_zone(student):
    student.timezone = "America/New_York"
    student.save()
    AttentionPreference.objects.create(user=student, quiet_start=dt.time(22), quiet_end=dt.time(6, 30))
    new_york = zoneinfo.ZoneInfo("America/New_York")
    now = dt.datetime(2026, 11, 24, 23, 0, tzinfo=new_york)
    plan_session_reminder(student, now=now, expires_at=now + dt.timedelta(days=1))
    dispatch_due_deliveries(now=now)
    email = Delivery.objects.get(channel="email")
    assert email.next_attempt_at == dt.datetime(2026, 11, 25, 6, 30, tzinfo=new_york)


def test_marketing_goes_only_inside_the_marketing_window():
    budget = budget_of(None, None)
    at, reason = allowed_from(budget, LOW, ist(24, 8, 30))  # after quiet hours, before 10:00
    assert (at, reason) == (ist(24, 10), "held_marketing_window")
    at, reason = allowed_from(budget, NORMAL, ist(24, 8, 30))
    assert at is None


def test_the_fourth_non_critical_message_of_a_day_is_folded_into_the_digest(student):
    now = ist(24, 12)
    plan_recordings(student, 4, now=now)
    plan_messages(  # a critical message does not count against the cap
        kind="session_15min",
        now=now,
        messages=[PlannedMessage(recipient=Recipient.for_user(student), event_key="soon", context={"title": "T"})],
    )
    dispatch_due_deliveries(now=now)
    emails = Delivery.objects.filter(channel="email")
    assert emails.filter(status=Status.SENT).count() == 4  # three recordings and the critical one
    folded = emails.get(status=Status.FOLDED)
    assert folded.event.key == "recording_available:rec-3"
    assert any(detail.startswith("folded_daily_cap") for detail in history(folded))
    # The next local day has a cap of its own.
    plan_recordings(student, 1, now=ist(25, 9), first=10)
    dispatch_due_deliveries(now=ist(25, 9))
    assert Delivery.objects.get(event__key="recording_available:rec-10", channel="email").status == Status.SENT


def test_the_digest_goes_at_the_students_hour_in_their_language(student):
    student.language = "hi"
    student.save()
    AttentionPreference.objects.create(user=student, digest_hour=19)
    now = ist(24, 12)
    plan_recordings(student, 5, now=now)
    dispatch_due_deliveries(now=now)
    folded = list(Delivery.objects.filter(status=Status.FOLDED).order_by("id"))
    assert len(folded) == 2
    Notification.objects.filter(event__key__startswith="recording_available:rec-4").update(read_at=now)
    mail.outbox.clear()
    assert plan_digests(now=ist(24, 18, 59)).total == 0  # not their hour yet
    plan_digests(now=ist(24, 19, 5))
    plan_digests(now=ist(24, 19, 20))  # once a day
    dispatch_due_deliveries(now=ist(24, 19, 5))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "आपका सारांश: 1 नई रिकॉर्डिंग"
    assert "https://" in message.body and "/recordings/3/" in message.body and "/recordings/4/" not in message.body
    digest = Delivery.objects.get(event__kind="attention_digest")
    assert digest.status == Status.SENT
    first, read = folded
    first.refresh_from_db()
    read.refresh_from_db()
    assert first.status == Status.DIGESTED and read.status == Status.CANCELLED
    assert any(detail.startswith("digested") for detail in history(first))
    assert any(detail.startswith("dropped_read_in_app") for detail in history(read))
    assert Notification.objects.filter(user=student, kind="attention_digest").count() == 1


def test_the_preferences_page_saves_quiet_hours_and_the_digest_hour(client, student):
    client.force_login(student)
    page = client.get("/preferences/")
    assert b'name="quiet_start"' in page.content and b'value="21:00"' in page.content
    answer = client.post("/preferences/attention/", {"quiet_start": "23:00", "quiet_end": "06:00", "digest_hour": "7"})
    assert answer.status_code == 302
    saved = AttentionPreference.objects.get(user=student)
    assert (saved.quiet_start, saved.quiet_end, saved.digest_hour) == (dt.time(23), dt.time(6), 7)
    refused = client.post("/preferences/attention/", {"quiet_start": "23:00", "quiet_end": "23:00", "digest_hour": "7"})
    assert refused.status_code == 200 and AttentionPreference.objects.get(user=student).quiet_end == dt.time(6)
    student.language = "hi"
    student.save()
    assert "शांत समय" in client.get("/preferences/").content.decode()


ZONES = ("America/New_York", "Europe/London", "Asia/Dubai", "Asia/Singapore", "Asia/Kolkata")


def test_two_simulated_days_in_five_zones_keep_every_promise(django_user_model):
    """The bench's month in small: 20 students in 5 zones, messages of every urgency planned each
    hour, dispatch every quarter hour; then no normal or low message went in quiet hours, no marketing
    outside 10:00-21:00 local, no student got more than 3 non-critical messages in a local day, and
    no critical message was held."""
    students = [
        django_user_model.objects.create_user(
            email=f"s{n}@example.com", password=None, name=f"Student {n}", timezone=ZONES[n % 5]
        )
        for n in range(20)
    ]
    start = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    kinds = ("recording_available", "payment_reminder", "lead_day3", "session_15min", "assignment_due")
    for quarter in range(2 * 24 * 4):
        now = start + dt.timedelta(minutes=15 * quarter)
        if quarter % 4 == 0:
            hour = quarter // 4
            for n, student in enumerate(students):
                if (hour * 7 + n * 3) % 5:  # most students get something most hours
                    continue
                kind = kinds[(hour + n) % len(kinds)]
                expires = now + dt.timedelta(minutes=15) if kind == "session_15min" else None
                plan_messages(
                    kind=kind,
                    now=now,
                    messages=[
                        PlannedMessage(
                            recipient=Recipient.for_user(student),
                            event_key=f"sim-{hour}-{n}",
                            context={"title": "T", "amount": "₹1"},
                            expires_at=expires,
                        )
                    ],
                )
        dispatch_due_deliveries(now=now)
    sent = Delivery.objects.filter(handed_over_at__isnull=False, channel="email").select_related("event", "recipient")
    assert sent.count() > 100
    per_day = {}
    for row in sent:
        kind = get_kind(row.kind)
        local = row.handed_over_at.astimezone(zoneinfo.ZoneInfo(row.recipient.timezone))
        quiet = local.hour >= 21 or local.hour < 8
        if kind.urgency_class != CRITICAL:
            assert not quiet, (row.kind, local)
            per_day.setdefault((row.recipient_id, local.date()), set()).add(row.event_id)
        if kind.urgency_class == LOW:
            assert 10 <= local.hour < 21, local
    assert max(len(events) for events in per_day.values()) <= 3
    assert Delivery.objects.filter(status=Status.FOLDED).exists()
    critical_held = DeliveryEvent.objects.filter(delivery__event__kind="session_15min", detail__startswith="held")
    assert not critical_held.exists()


def test_holds_and_folds_are_counted_per_day_on_the_jobs_page(student, admin_client):
    plan_session_reminder(student, now=ist(24, 2), expires_at=ist(25, 2))
    dispatch_due_deliveries(now=ist(24, 2))  # email and WhatsApp held for quiet hours
    plan_recordings(student, 4, now=ist(24, 12))
    dispatch_due_deliveries(now=ist(24, 12))  # the session's two rows and two recordings: the others folded
    counts = attention_counts(now=ist(24, 23))
    # Days in the site's zone (Asia/Kolkata): 02:00 and 12:00 IST are both the 24th.
    assert [(row["day"], row["held"], row["folded"]) for row in counts] == [(dt.date(2026, 11, 24), 2, 2)]
    page = admin_client.get("/admin/automation/jobs/")
    assert page.status_code == 200 and b'id="attention-counts"' in page.content
