"""The reads and writes other apps make through `notifications.api` about the ledger: counts about
their subjects (live rows and the counts retention kept), suppressions and consents, cancelling a
subject's messages, the ledger's health, the demo's reset."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone

from lms.models import User
from notifications.api import (
    Channel,
    cancel_for_subject,
    count_subjects_sent_to,
    count_suppressions,
    count_unknown_deliveries,
    delete_messages_of,
    delivery_counts_for_subjects,
    delivery_id_for_subject,
    ledger_health,
    marketing_suppressions,
    message_planned_since,
    planned_message_status,
    recipients_sent_about,
    send_times_for_subjects,
    spend_for_subjects,
    whatsapp_marketing_consents,
)
from notifications.models import (
    ChannelPause,
    Delivery,
    DeliveryDailyCount,
    MessageEvent,
    Suppression,
    WhatsAppConsent,
    WhatsAppTemplate,
)
from notifications.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
LEAD = "leads.lead"
_keys = itertools.count()


def row(kind: str, subject_id: int, status: str, *, channel=Channel.EMAIL, subject_type=LEAD, **fields) -> Delivery:
    """One delivery of its own event about a subject."""
    event = MessageEvent.objects.create(
        kind=kind, key=f"{kind}:{next(_keys)}", subject_type=subject_type, subject_id=subject_id
    )
    fields.setdefault("to_address", f"lead{subject_id}@example.com")
    return Delivery.objects.create(event=event, channel=channel, status=status, **fields)


def purged(kind: str, subject_id: int, *, channel=Channel.EMAIL, days_ago=0, **counts) -> DeliveryDailyCount:
    """What retention kept of a subject's removed rows of one day."""
    day = NOW.date() - dt.timedelta(days=days_ago)
    return DeliveryDailyCount.objects.create(
        day=day, kind=kind, channel=channel, subject_type=LEAD, subject_id=subject_id, **counts
    )


def test_delivery_counts_for_subjects_add_the_live_rows_and_the_counts_retention_kept():
    row("lead_day0", 1, "sent")
    row("lead_day0", 2, "opened")
    row("lead_day0", 3, "complained")
    row("lead_day3", 1, "unknown")
    row("lead_day3", 2, "pending")
    row("lead_day3", 9, "sent")  # another subject
    row("lead_day0", 1, "sent", channel=Channel.WHATSAPP, to_address="+919800000001")  # another channel
    purged("lead_day0", 4, sent=2, bounced=1, complained=1, failed=3)
    purged("lead_day7", 2, sent=1)

    counts = delivery_counts_for_subjects(subject_type=LEAD, subject_ids=[1, 2, 3, 4], channel=Channel.EMAIL)

    assert counts == {
        "lead_day0": {"sent": 4, "bounced": 3, "failed": 3, "waiting": 0},
        "lead_day3": {"sent": 0, "bounced": 0, "failed": 1, "waiting": 1},
        "lead_day7": {"sent": 1, "bounced": 0, "failed": 0, "waiting": 0},
    }


def test_subjects_sent_to_are_counted_once_whether_live_or_purged_and_their_send_times_listed():
    first, second = NOW - dt.timedelta(days=3), NOW - dt.timedelta(days=1)
    row("lead_day0", 1, "sent", sent_at=first)
    row("lead_day3", 1, "delivered", sent_at=second)
    row("lead_day0", 2, "bounced")
    row("lead_day0", 3, "failed")
    purged("lead_day0", 3, sent=1, first_sent_at=first)
    purged("lead_day0", 2, failed=1)
    purged("lead_day3", 3, sent=2, first_sent_at=second)
    purged("lead_day3", 3, sent=1, first_sent_at=first - dt.timedelta(days=1), days_ago=1)
    purged("lead_day0", 5, sent=1, first_sent_at=first, channel=Channel.WHATSAPP)

    subjects = {"subject_type": LEAD, "subject_ids": [1, 2, 3, 5], "channel": Channel.EMAIL}
    assert count_subjects_sent_to(**subjects) == 2
    assert sorted(send_times_for_subjects(**subjects)) == [
        (1, "lead_day0", first),
        (1, "lead_day3", second),
        (3, "lead_day0", first),
        (3, "lead_day3", first - dt.timedelta(days=1)),  # the first send of the subject's kind
    ]


def test_spend_for_subjects_adds_live_and_purged_messages_and_cost_of_several_subject_types():
    row("welcome", 7, "sent", channel=Channel.WHATSAPP, subject_type="leads.ctasubmission", cost=Decimal("0.1150"))
    row("lead_day0", 1, "delivered", channel=Channel.WHATSAPP, cost=Decimal("0.7846"))
    row("lead_day0", 2, "failed", channel=Channel.WHATSAPP, cost=None)
    row("lead_day0", 1, "sent", channel=Channel.WHATSAPP, is_test=True, cost=Decimal("1"))  # a staff test send
    row("lead_day0", 8, "sent", channel=Channel.WHATSAPP, cost=Decimal("5"))  # not one of them
    purged("lead_day3", 2, channel=Channel.WHATSAPP, sent=3, cost=Decimal("2.3538"))

    spend = spend_for_subjects(
        subjects={LEAD: [1, 2], "leads.ctasubmission": [7]},
        channel=Channel.WHATSAPP,
    )

    assert spend == {"messages": 5, "cost": Decimal("3.2534")}


def test_nothing_to_count_is_zero():
    assert delivery_counts_for_subjects(subject_type=LEAD, subject_ids=[], channel=Channel.EMAIL) == {}
    assert count_subjects_sent_to(subject_type=LEAD, subject_ids=[1], channel=Channel.EMAIL) == 0
    assert spend_for_subjects(subjects={LEAD: [1]}, channel=Channel.WHATSAPP) == {"messages": 0, "cost": Decimal("0")}


def test_recipients_sent_about_a_subject_leave_out_one_event_and_unsent_rows():
    told, waiting, latest, other = UserFactory.create_batch(4)
    row("session_24h", 5, "sent", subject_type="lms.livesession", recipient=told)
    row("session_moved", 5, "pending", subject_type="lms.livesession", recipient=waiting)
    latest_row = row("session_24h", 5, "sent", subject_type="lms.livesession", recipient=latest)
    row("session_24h", 6, "sent", subject_type="lms.livesession", recipient=other)

    recipients = recipients_sent_about(
        kinds=["session_24h", "session_moved"],
        channel=Channel.EMAIL,
        subject_type="lms.livesession",
        subject_id=5,
        except_event_key_ending=":" + latest_row.event.key.rpartition(":")[2],
    )

    assert set(User.objects.filter(pk__in=recipients)) == {told}


def test_a_planned_message_is_found_by_kind_and_channel_and_by_when_it_was_planned():
    email = row("welcome", 1, "sent", created_at=NOW - dt.timedelta(minutes=10))
    other = row("lead_day0", 1, "pending")

    ids = [email.pk, other.pk]
    assert planned_message_status(delivery_ids=ids, kind="welcome", channel=Channel.EMAIL) == "sent"
    assert planned_message_status(delivery_ids=ids, kind="welcome", channel=Channel.WHATSAPP) is None
    since = {"kind": "welcome", "channel": Channel.EMAIL, "to_address": email.to_address}
    assert message_planned_since(**since, since=NOW - dt.timedelta(minutes=15))
    assert not message_planned_since(**since, since=NOW - dt.timedelta(minutes=5))
    assert delivery_id_for_subject(kind="lead_day0", subject_type=LEAD, subject_id=1) == other.pk


def test_cancel_for_subject_cancels_only_its_waiting_messages_of_those_kinds():
    waiting = row("lead_day3", 1, "pending")
    sent = row("lead_day0", 1, "sent")
    other_kind = row("welcome", 1, "pending")
    other_lead = row("lead_day3", 2, "pending")

    cancelled = cancel_for_subject(
        subject_type=LEAD, subject_id=1, kinds=("lead_day0", "lead_day3"), reason="The lead converted.", now=NOW
    )

    assert cancelled == 1
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {waiting.pk: "cancelled", sent.pk: "sent", other_kind.pk: "pending", other_lead.pk: "pending"}
    assert waiting.events.get().detail == "The lead converted."


def test_marketing_suppressions_in_a_query_and_their_reasons_oldest_first():
    Suppression.objects.create(channel="email", address="gone@example.com", reason="bounced", created_at=NOW)
    Suppression.objects.create(
        channel="email",
        address="gone@example.com",
        category="marketing",
        reason="unsubscribed",
        created_at=NOW - dt.timedelta(days=1),
    )
    Suppression.objects.create(channel="email", address="receipts@example.com", category="account", reason="manual")
    Suppression.objects.create(channel="whatsapp", address="+919800000001", reason="opted_out")
    people = [UserFactory(email="Gone@Example.com").pk, UserFactory(email="receipts@example.com").pk]

    stopped = User.objects.filter(pk__in=people).filter(
        Exists(marketing_suppressions(channel="email", address=Lower(OuterRef("email"))))
    )
    assert list(stopped.values_list("email", flat=True)) == ["Gone@Example.com"]
    reasons = marketing_suppressions(channel="email", address="gone@example.com").values_list("reason", flat=True)
    assert list(reasons) == ["unsubscribed", "bounced"]
    assert count_suppressions(addresses=["gone@example.com", "+919800000001", "nobody@example.com"]) == 3


def test_whatsapp_marketing_consents_are_the_given_ones():
    assert not whatsapp_marketing_consents().exists()
    consent = {"source": "a test", "changed_at": NOW}
    WhatsAppConsent.objects.create(address="+919800000001", category="marketing", given=True, **consent)
    WhatsAppConsent.objects.create(address="+919800000002", category="marketing", given=False, **consent)
    WhatsAppConsent.objects.create(address="+919800000003", category="utility", given=True, **consent)

    assert whatsapp_marketing_consents().exists()
    assert [c.address for c in whatsapp_marketing_consents(address="+919800000001")] == ["+919800000001"]
    assert not whatsapp_marketing_consents(address="+919800000003").exists()


def test_ledger_health_says_what_staff_must_act_on():
    now = timezone.now()
    old = row("session_24h", 1, "unknown", updated_at=now - dt.timedelta(hours=2))
    row("session_24h", 2, "unknown", updated_at=now - dt.timedelta(hours=1))
    row("session_24h", 3, "unknown", updated_at=now)
    ChannelPause.objects.create(
        channel="whatsapp", reason="Account suspended", since=now - dt.timedelta(minutes=5), until=now, failures=2
    )

    health = ledger_health(unsettled_before=now - dt.timedelta(minutes=30), whatsapp_provider="meta")

    assert (health.unsettled, health.oldest_unsettled_at) == (2, old.updated_at)
    assert count_unknown_deliveries() == 3
    (pause,) = health.paused_channels
    assert (pause.channel, pause.reason, pause.until, pause.failures) == ("whatsapp", "Account suspended", now, 2)
    assert not health.whatsapp_templates_synced
    assert ledger_health(unsettled_before=now, whatsapp_provider="").whatsapp_templates_synced  # no provider
    WhatsAppTemplate.objects.create(provider="meta", name="session_24h", language="en")
    healthy = ledger_health(unsettled_before=now - dt.timedelta(days=1), whatsapp_provider="meta")
    assert (healthy.unsettled, healthy.oldest_unsettled_at, healthy.whatsapp_templates_synced) == (0, None, True)


def test_delete_messages_of_people_removes_their_deliveries_and_suppressions_only():
    person, stranger = UserFactory.create_batch(2)
    mine = [
        row("welcome", 1, "sent", recipient=person, to_address=person.email),
        row("lead_day0", 2, "sent", to_address="lead@example.com"),
    ]
    kept = row("welcome", 3, "sent", recipient=stranger, to_address=stranger.email)
    Suppression.objects.create(channel="email", address="lead@example.com", reason="bounced")
    Suppression.objects.create(channel="email", address=stranger.email, reason="bounced")

    deleted = delete_messages_of(recipients=User.objects.filter(pk=person.pk), addresses=["lead@example.com"])

    assert deleted == len(mine) + 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Suppression.objects.values_list("address", flat=True)) == [stranger.email]
