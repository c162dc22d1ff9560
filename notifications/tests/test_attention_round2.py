"""The attention budget, round 2 (issue 30): the digest on WhatsApp only with an approved template for
the reader's language, the due day of an assignment in the digest in the reader's language and zone,
and the budget's counts per day on each recipient's local calendar day."""

import datetime as dt
import zoneinfo

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command

from notifications.attention_counts import attention_counts
from notifications.models import AttentionPreference, Delivery, DeliveryEvent, WhatsAppTemplate
from notifications.services.digest import plan_digests
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from tests.fake_graph import template

pytestmark = pytest.mark.django_db
Status = Delivery.Status
IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
DIGEST_TEMPLATE = "daily_digest"
# Hi {{1}}, here is what came in today: {{2}}. See them all: {{3}}
DIGEST_BODY = [{"type": "BODY", "text": "Hi {{1}}, here is what came in today: {{2}}. See them all: {{3}}"}]


def at(zone, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=zone).astimezone(dt.UTC)


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


def plan_assignment(user, *, deadline: dt.datetime, now: dt.datetime, key: str = "a1") -> None:
    plan_messages(
        kind="assignment_due",
        now=now,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(user),
                event_key=key,
                context={
                    "title": "Week 2 essay",
                    "course_title": "Python Basics",
                    "deadline": "soon",
                    "submit_url": "https://example.com/assignments/1/",
                },
                link="/assignments/1/",
                expires_at=deadline,
            )
        ],
    )


def fill_the_day(user, *, now: dt.datetime, first: int = 0) -> None:
    """Three recordings sent (the day's cap), then a fourth folded into the digest."""
    plan_recordings(user, 4, now=now, first=first)
    dispatch_due_deliveries(now=now)
    folded = Delivery.objects.filter(recipient=user, channel="email", status=Status.FOLDED, updated_at=now)
    assert folded.count() == 1


def email_only(user):
    user.whatsapp_opt_in = False
    user.save(update_fields=["whatsapp_opt_in"])
    return user


# --- The due day of an assignment, in the reader's language and zone -----------------------------


@pytest.mark.parametrize(
    ("language", "deadline_day", "words"),
    [
        ("en", 27, "(due Friday)"),  # Tuesday's digest, due on Friday
        ("hi", 27, "(शुक्रवार तक)"),
        ("en", 25, "(due tomorrow)"),
        ("hi", 25, "(कल तक)"),
        ("en", 24, "(due today)"),
        ("hi", 24, "(आज तक)"),
        ("en", 30, "(due Monday)"),  # six days away: still its weekday
    ],
)
def test_the_digest_says_the_assignments_due_day_in_the_readers_language(student, language, deadline_day, words):
    email_only(student)
    student.language = language
    student.save(update_fields=["language"])
    fill_the_day(student, now=at(IST, 24, 12))
    plan_assignment(student, deadline=at(IST, deadline_day, 23, 30), now=at(IST, 24, 13))
    dispatch_due_deliveries(now=at(IST, 24, 13))  # past the cap: folded beside the recording
    mail.outbox.clear()
    plan_digests(now=at(IST, 24, 18))
    dispatch_due_deliveries(now=at(IST, 24, 18))
    (message,) = mail.outbox
    assert words in message.body
    assert words in message.alternatives[0][0]  # the HTML part too
    assert "/assignments/1/" in message.body


def test_the_due_day_is_the_readers_day_in_their_own_zone(student):
    """Thursday 26 Nov 03:00 UTC is Wednesday evening in New York: "tomorrow" for a New Yorker
    reading on Tuesday, though it is already Thursday morning in India."""
    email_only(student)
    student.timezone = "America/New_York"
    student.save(update_fields=["timezone"])
    fill_the_day(student, now=at(NEW_YORK, 24, 12))
    deadline = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)
    plan_assignment(student, deadline=deadline, now=at(NEW_YORK, 24, 13))
    dispatch_due_deliveries(now=at(NEW_YORK, 24, 13))
    mail.outbox.clear()
    plan_digests(now=at(NEW_YORK, 24, 18))
    dispatch_due_deliveries(now=at(NEW_YORK, 24, 18))
    (message,) = mail.outbox
    assert "(due tomorrow)" in message.body and "Thursday" not in message.body


def test_a_digest_without_an_assignment_says_no_due_day(student):
    email_only(student)
    fill_the_day(student, now=at(IST, 24, 12))
    mail.outbox.clear()
    plan_digests(now=at(IST, 24, 18))
    dispatch_due_deliveries(now=at(IST, 24, 18))
    (message,) = mail.outbox
    assert "due" not in message.body.lower()


# --- The digest on WhatsApp, only with an approved template for the reader's language ----------


@pytest.fixture
def digest_graph(graph, settings):
    settings.META_WHATSAPP_TEMPLATES = {
        **settings.META_WHATSAPP_TEMPLATES,
        "attention_digest_whatsapp": DIGEST_TEMPLATE,
    }
    graph.strict = True
    return graph


def digest_rows(user):
    return Delivery.objects.filter(recipient=user, event__kind__startswith="attention_digest")


def sent_digests(graph) -> list[dict]:
    return [sent["template"] for sent in graph.sent() if sent.get("template", {}).get("name") == DIGEST_TEMPLATE]


def test_the_digest_goes_on_whatsapp_with_an_approved_template_in_the_readers_language(digest_graph, student):
    digest_graph.templates = [template(DIGEST_TEMPLATE, components=DIGEST_BODY)]
    call_command("whatsapp_templates", "sync")
    fill_the_day(student, now=at(IST, 24, 12))
    mail.outbox.clear()
    plan_digests(now=at(IST, 24, 18))
    dispatch_due_deliveries(now=at(IST, 24, 18))

    assert sorted(digest_rows(student).values_list("event__kind", "channel", "status")) == [
        ("attention_digest", "email", Status.SENT),
        ("attention_digest_whatsapp", "whatsapp", Status.SENT),
    ]
    (sent,) = sent_digests(digest_graph)
    assert sent["language"] == {"code": "en"}
    first_name, summary, link = (p["text"] for p in sent["components"][0]["parameters"])
    assert (first_name, summary) == ("Asha", "1 new recording")
    assert link.endswith("/notifications/")
    assert len(mail.outbox) == 1  # and the email, as without WhatsApp


def test_without_an_approved_template_the_digest_is_email_and_in_app_only(digest_graph, student):
    digest_graph.templates = [template(DIGEST_TEMPLATE, components=DIGEST_BODY, status="PENDING")]
    call_command("whatsapp_templates", "sync")
    fill_the_day(student, now=at(IST, 24, 12))
    mail.outbox.clear()
    plan_digests(now=at(IST, 24, 18))
    dispatch_due_deliveries(now=at(IST, 24, 18))
    assert list(digest_rows(student).values_list("channel", flat=True)) == ["email"]
    assert sent_digests(digest_graph) == [] and len(mail.outbox) == 1
    assert student.notifications.filter(kind="attention_digest").count() == 1


def test_a_hindi_reader_gets_the_whatsapp_digest_only_once_hindi_is_approved(digest_graph, student):
    student.language = "hi"
    student.save(update_fields=["language"])
    digest_graph.templates = [
        template(DIGEST_TEMPLATE, components=DIGEST_BODY),
        template(DIGEST_TEMPLATE, language="hi", components=DIGEST_BODY, status="PENDING"),
    ]
    call_command("whatsapp_templates", "sync")
    fill_the_day(student, now=at(IST, 24, 12))
    plan_digests(now=at(IST, 24, 18))
    dispatch_due_deliveries(now=at(IST, 24, 18))
    # English is approved, Hindi is not: no English WhatsApp to a Hindi reader, the email in Hindi.
    assert list(digest_rows(student).values_list("channel", flat=True)) == ["email"]
    assert sent_digests(digest_graph) == []

    digest_graph.templates[1]["status"] = "APPROVED"
    call_command("whatsapp_templates", "sync")
    fill_the_day(student, now=at(IST, 25, 12), first=10)
    plan_digests(now=at(IST, 25, 18))
    dispatch_due_deliveries(now=at(IST, 25, 18))
    (sent,) = sent_digests(digest_graph)
    assert sent["language"] == {"code": "hi"}
    assert sent["components"][0]["parameters"][1]["text"] == "1 नई रिकॉर्डिंग"
    row = digest_rows(student).get(channel="whatsapp")
    assert row.status == Status.SENT and "आज आपके लिए यह आया" in row.rendered_text


def test_twilio_sends_the_digest_only_with_its_approved_content_template(twilio, student, settings):
    sid = "HX" + "d" * 32
    settings.TWILIO_CONTENT_SIDS = {**settings.TWILIO_CONTENT_SIDS, "attention_digest_whatsapp": sid}
    fill_the_day(student, now=at(IST, 24, 12))
    plan_digests(now=at(IST, 24, 18))  # never synced: not known to be approved
    assert not digest_rows(student).filter(channel="whatsapp").exists()

    WhatsAppTemplate.objects.create(provider="twilio", name=sid, language="en", status="approved")
    cache.clear()  # as a sync does: forget the approvals read before
    fill_the_day(student, now=at(IST, 25, 12), first=10)
    plan_digests(now=at(IST, 25, 18))
    dispatch_due_deliveries(now=at(IST, 25, 18))
    row = digest_rows(student).get(channel="whatsapp")
    assert row.status == Status.SENT
    (request,) = [r for r in twilio.requests if r.form().get("ContentSid") == sid]
    assert "1 new recording" in request.form()["ContentVariables"]


# --- Counts per day on each recipient's local day --------------------------------------------------


def test_the_counts_put_each_message_on_its_recipients_local_day(student, django_user_model):
    """Two holds at the same instant, 2026-11-24 19:30 UTC: already the 25th in India (01:00), still
    the 24th in New York (14:30); each counted on its recipient's day, not the site's."""
    email_only(student)
    new_yorker = django_user_model.objects.create_user(
        email="ny@example.com", password=None, name="Nia York", timezone="America/New_York"
    )
    AttentionPreference.objects.create(user=new_yorker, quiet_start=dt.time(14), quiet_end=dt.time(16))
    moment = dt.datetime(2026, 11, 24, 19, 30, tzinfo=dt.UTC)
    for user in (student, new_yorker):
        plan_recordings(user, 1, now=moment)
    dispatch_due_deliveries(now=moment)  # both in their quiet hours: held
    held = DeliveryEvent.objects.filter(detail__startswith="held_quiet_hours")
    assert held.count() == 2

    counts = {row["day"]: row for row in attention_counts(now=moment + dt.timedelta(hours=1))}
    assert sorted(counts) == [dt.date(2026, 11, 24), dt.date(2026, 11, 25)]
    assert counts[dt.date(2026, 11, 24)]["held"] == 1  # New York's
    assert counts[dt.date(2026, 11, 25)]["held"] == 1  # India's


def test_the_counts_separate_the_caps_holds_from_the_others(student):
    email_only(student)
    fill_the_day(student, now=at(IST, 24, 12))  # one folded
    plan_recordings(student, 1, now=at(IST, 24, 23), first=20)
    dispatch_due_deliveries(now=at(IST, 24, 23))  # quiet hours: held
    (row,) = attention_counts(now=at(IST, 24, 23, 30))
    assert (row["day"], row["held"], row["capped"], row["folded"]) == (dt.date(2026, 11, 24), 1, 0, 1)


@pytest.mark.postgres
def test_the_daily_cap_reads_todays_rows_off_the_recipients_index(student):
    """A claim asks what each recipient was handed since their midnight: by recipient and time in
    one index range, not every row of their history (4.5 s a claim on a 30-day ledger without it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.services.attention import budgets_for, sent_today

    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    with CaptureQueriesContext(connection) as queries:
        sent_today(budgets_for({student.pk: student}), now)
    [sql] = [query["sql"] for query in queries if "handed_over_at" in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables are cheaper to scan
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "delivery_recipient_handed" in plan
    assert "Index Cond" in plan and "handed_over_at >=" in plan.split("delivery_recipient_handed", 1)[1]
