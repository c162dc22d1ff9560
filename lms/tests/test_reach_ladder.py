"""Issue 29, item 1: the reach ladder. A student no reminder reached gets the next channel in time.

Receipts come through the providers' real webhooks (Meta's signed statuses, Postmark's tracking with
its basic-auth secret), with the clock set where the story is; the ladder's decisions are read from
the ledger and its history.
"""

import base64
import datetime as dt
import re

import pytest
import time_machine
from django.core import checks

from lms import reminders
from lms.holdout import held_out
from lms.reach import escalate, run_reach_ladder
from notifications.models import Delivery, DeliveryEvent
from notifications.services.dispatch import dispatch_due_deliveries
from tests.fake_graph import status_update

from .factories import CourseFactory, LiveSessionFactory
from .test_reach import START, enrolled, post_meta

pytestmark = pytest.mark.django_db
Status = Delivery.Status
TRACKING = "/anymail/postmark/tracking/"
STEPS = "session_15min"


def minutes_before(minutes: int) -> dt.datetime:
    return START - dt.timedelta(minutes=minutes)


@pytest.fixture
def course():
    return CourseFactory(title="Data Science Bootcamp")


@pytest.fixture
def session(course):
    return LiveSessionFactory(
        course=course, title="Intro to Pandas", scheduled_at=START, meeting_url="https://meet.example.com/p"
    )


@pytest.fixture
def providers(graph, settings):
    """Meta's Graph API (fake, over HTTP) for WhatsApp, Postmark's tracking webhook for email receipts."""
    settings.META_WHATSAPP_TEMPLATES = {kind: f"{kind}_v1" for kind in ("session_24h", "session_15min", "session_live")}
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ["hooks:secret"]}
    return graph


def steps_of(user) -> dict[int, Delivery]:
    rows = Delivery.objects.filter(recipient=user, event__key__contains=":step").select_related("event")
    return {int(row.event.key.rsplit(":step", 1)[1]): row for row in rows}


def history(row: Delivery) -> list[str]:
    return list(DeliveryEvent.objects.filter(delivery=row).order_by("at", "pk").values_list("detail", flat=True))


def meta_status(client, row: Delivery, status: str, at: dt.datetime, errors=None):
    update = status_update(row.provider_message_id, status, recipient=row.to_address, delivery_id=row.pk, errors=errors)
    update["timestamp"] = str(int(at.timestamp()))
    with time_machine.travel(at, tick=False):
        post_meta(client, {"statuses": [update]})


def postmark(client, payload: dict, at: dt.datetime):
    auth = "Basic " + base64.b64encode(b"hooks:secret").decode()
    with time_machine.travel(at, tick=False):
        response = client.post(TRACKING, payload, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200


def email_delivered(client, row: Delivery, at: dt.datetime):
    payload = {
        "RecordType": "Delivery",
        "MessageID": row.provider_message_id,
        "Recipient": row.to_address,
        "DeliveredAt": at.isoformat().replace("+00:00", "Z"),
        "Details": "250 OK",
        "Metadata": {"delivery_id": str(row.pk)},
    }
    postmark(client, payload, at)


def email_bounced(client, row: Delivery, at: dt.datetime):
    payload = {
        "RecordType": "Bounce",
        "ID": row.pk,
        "Type": "HardBounce",
        "MessageID": row.provider_message_id,
        "Email": row.to_address,
        "BouncedAt": at.isoformat().replace("+00:00", "Z"),
        "Description": "The server was unable to deliver your message.",
        "Details": "550 5.1.1 user unknown",
        "Metadata": {"delivery_id": str(row.pk)},
    }
    postmark(client, payload, at)


def tick(moment: dt.datetime):
    """The minute job, then the dispatcher, at `moment`."""
    with time_machine.travel(moment, tick=False):
        run_reach_ladder(now=moment)
        dispatch_due_deliveries(now=moment)


def test_a_whatsapp_never_delivered_escalates_to_email_in_time(client, course, session, providers):
    [asha] = enrolled(course, 1)
    reminders.plan_session_reminders_24h(now=START - dt.timedelta(hours=20))
    dispatch_due_deliveries(now=START - dt.timedelta(hours=20))  # no receipt on either channel

    tick(minutes_before(31))  # the ladder opens at 10 + 2 x 10 minutes before the start
    assert steps_of(asha) == {}
    tick(minutes_before(30))
    assert {n: (row.channel, row.status) for n, row in steps_of(asha).items()} == {1: ("whatsapp", Status.SENT)}
    tick(minutes_before(21))  # still inside its wait
    assert list(steps_of(asha)) == [1]

    tick(minutes_before(20))  # not delivered within 10 minutes: email
    steps = steps_of(asha)
    assert (steps[2].channel, steps[2].status) == ("email", Status.SENT)
    assert steps[2].sent_at <= minutes_before(10)
    assert "escalated to email (step 2): step 1 (whatsapp) not delivered within 10 min" in history(steps[1])[-1]
    assert "Reach ladder step 2 (email): step 1 (whatsapp) not delivered within 10 min" in history(steps[2])[0]

    email_delivered(client, steps[2], minutes_before(19))
    tick(minutes_before(5))
    assert len(steps_of(asha)) == 2  # the ladder is done: nothing more
    assert Delivery.objects.filter(recipient=asha, sent_at__gte=START).count() == 0


def test_a_failed_whatsapp_step_escalates_at_once_through_the_receipt(client, course, session, providers):
    [asha] = enrolled(course, 1)
    tick(minutes_before(30))
    [whatsapp] = steps_of(asha).values()

    # Meta says the step failed: the email goes in the same request, without waiting for a tick.
    meta_status(client, whatsapp, "failed", minutes_before(29), errors=[{"code": 131047, "title": "Re-engagement"}])
    steps = steps_of(asha)
    assert (steps[2].channel, steps[2].status) == ("email", Status.PENDING)
    assert "step 1 (whatsapp) failed" in history(steps[2])[0]


def test_a_bounced_email_step_escalates_to_whatsapp_at_once(client, course, session, providers, settings):
    settings.REACH_LADDER = "email,sms,whatsapp"  # no SMS provider: that step is skipped
    [asha] = enrolled(course, 1)
    tick(minutes_before(30))
    [email] = steps_of(asha).values()
    assert email.channel == "email"

    email_bounced(client, email, minutes_before(29))
    steps = steps_of(asha)
    assert steps[2].channel == "whatsapp"  # the steps are numbered among the channels with a provider
    assert "step 1 (email) bounced" in history(steps[2])[0]


def test_after_a_read_no_lower_step_goes(client, course, session, providers):
    readers = enrolled(course, 2)
    tick(minutes_before(30))
    first, second = (steps_of(user)[1] for user in readers)
    meta_status(client, first, "read", minutes_before(28))

    # The other's step 2 is planned but not sent yet when their WhatsApp is read: it is cancelled.
    with time_machine.travel(minutes_before(20), tick=False):
        run_reach_ladder(now=minutes_before(20))
    waiting = steps_of(readers[1])[2]
    assert waiting.status == Status.PENDING
    meta_status(client, second, "read", minutes_before(19))
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    assert "not sent, the student was reached (whatsapp opened" in history(waiting)[-1]

    tick(minutes_before(12))
    assert list(steps_of(readers[0])) == [1]
    assert not Delivery.objects.filter(event__key__contains=":step", status=Status.SENT, channel="email").exists()


def test_a_student_a_reminder_reached_gets_no_step(client, course, session, providers):
    [asha] = enrolled(course, 1)
    reminders.plan_session_reminders_24h(now=START - dt.timedelta(hours=20))
    dispatch_due_deliveries(now=START - dt.timedelta(hours=20))
    row = Delivery.objects.get(recipient=asha, channel="whatsapp")
    meta_status(client, row, "delivered", START - dt.timedelta(hours=19))
    tick(minutes_before(30))
    tick(minutes_before(15))
    assert steps_of(asha) == {}


def test_nothing_goes_at_or_after_the_start(client, course, session, providers):
    [asha] = enrolled(course, 1)
    tick(START)
    tick(START + dt.timedelta(minutes=1))
    assert steps_of(asha) == {}

    # A step planned just before the start (the reminder went at 15 minutes, no receipt) and not
    # sent by then expires.
    with time_machine.travel(minutes_before(15), tick=False):
        reminders.plan_session_reminders_15min(now=minutes_before(15))
        dispatch_due_deliveries(now=minutes_before(15))
    with time_machine.travel(minutes_before(1), tick=False):
        run_reach_ladder(now=minutes_before(1))
    [step] = steps_of(asha).values()
    dispatch_due_deliveries(now=START + dt.timedelta(seconds=30))
    step.refresh_from_db()
    assert step.status == Status.EXPIRED and step.sent_at is None


def test_a_late_start_shortens_the_wait_so_the_next_step_still_lands(client, course, session, providers):
    [asha] = enrolled(course, 1)
    tick(minutes_before(16))  # the ladder opened late (the student enrolled late)
    tick(minutes_before(14))
    assert list(steps_of(asha)) == [1]
    tick(minutes_before(13))  # (16 - 10) / 2 = 3 minutes
    assert steps_of(asha)[2].channel == "email"
    assert "not delivered within 3 min" in history(steps_of(asha)[2])[0]


def test_the_holdout_gets_no_escalation_and_no_live_nudge(course, session, providers, settings):
    settings.REACH_HOLDOUT_PERCENT = 50
    people = enrolled(course, 12)
    held = {user.pk for user in people if held_out(user.pk, course.pk)}
    assert 0 < len(held) < len(people)  # the hash splits the class (stable: the same on every run)

    tick(minutes_before(30))
    stepped = set(Delivery.objects.filter(event__key__contains=":step").values_list("recipient", flat=True))
    assert stepped == {user.pk for user in people} - held

    nudge = START + dt.timedelta(minutes=5)
    reminders.plan_session_reminders_15min(now=nudge)
    nudged = set(Delivery.objects.filter(event__kind="session_live").values_list("recipient", flat=True))
    assert nudged == {user.pk for user in people} - held


def test_students_who_said_they_cant_make_it_get_no_step(course, session, providers):
    from lms.models import SessionRsvp

    cant, will = enrolled(course, 2)
    SessionRsvp.objects.create(session=session, student=cant, answer=SessionRsvp.Answer.NO)
    with time_machine.travel(minutes_before(30), tick=False):
        escalate(session, now=minutes_before(30))
    assert steps_of(cant) == {} and list(steps_of(will)) == [1]


def test_two_decisions_at_once_make_one_step(course, session, providers):
    [asha] = enrolled(course, 1)
    for _ in range(2):
        with time_machine.travel(minutes_before(30), tick=False):
            escalate(session, now=minutes_before(30))
    assert Delivery.objects.filter(recipient=asha, event__key__contains=":step").count() == 1


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("REACH_MINUTES", "soon", "lms.E003"),
        ("REACH_LADDER", "whatsapp,pigeon", "lms.E004"),
        ("REACH_WAIT_MINUTES", "0", "lms.E005"),
        ("REACH_HOLDOUT_PERCENT", "80", "lms.E006"),
    ],
)
def test_a_reach_setting_that_cannot_be_read_is_reported(settings, name, value, check_id):
    setattr(settings, name, value)
    found = [message.id for message in checks.run_checks() if message.id.startswith("lms.")]
    assert found == [check_id]


def test_the_reach_settings_read_their_values(settings):
    from lms.conf import conf

    settings.REACH_LADDER = "email, WhatsApp"
    settings.REACH_WAIT_MINUTES = "7"
    assert conf.reach_ladder == ["email", "whatsapp"] and conf.reach_wait_minutes == 7


def test_the_dashboard_shows_each_sessions_reach_and_the_holdouts_uplift(
    client, admin_client, course, session, providers, settings
):
    from lms.models import SessionAttendance

    settings.REACH_HOLDOUT_PERCENT = 50
    people = enrolled(course, 6)
    held = {user.pk for user in people if held_out(user.pk, course.pk)}
    reminders.plan_session_reminders_24h(now=START - dt.timedelta(hours=20))
    dispatch_due_deliveries(now=START - dt.timedelta(hours=20))
    first_of_rest = next(user for user in people if user.pk not in held)
    row = Delivery.objects.get(recipient=first_of_rest, channel="whatsapp")
    meta_status(client, row, "delivered", START - dt.timedelta(hours=19))
    SessionAttendance.objects.create(session=session, student=first_of_rest, joined_at=START)

    with time_machine.travel(START + dt.timedelta(hours=2), tick=False):
        page = admin_client.get("/admin/console/").content.decode()
    cells = dict(
        re.findall(r'<td data-figure="([a-z-]+)">([^<]*)</td>', page.split(f'data-testid="reach-{session.pk}"')[1])
    )
    rest = len(people) - len(held)
    assert cells["enrolled"] == "6" and cells["reachable"] == "6"
    assert cells["reached"] == "1 (17 %)"
    assert cells["by-channel"] == "WhatsApp 1, email 0, in-app 0"
    assert cells["rsvps"] == "0 / 0 / 0 / 6"
    assert cells["joined"] == "1 (17 %)"
    assert cells["cost"].startswith("₹")
    assert cells["uplift"] == f"reached {100 / rest:+.0f} pts, joined {100 / rest:+.0f} pts"
    assert "Reached ≥ 10 min before" in page


def test_the_ladder_waits_for_a_reminder_on_its_way(course, session, providers):
    [asha] = enrolled(course, 1)
    with time_machine.travel(minutes_before(15), tick=False):
        reminders.plan_session_reminders_15min(now=minutes_before(15))
        run_reach_ladder(now=minutes_before(15))  # "starting soon" is planned, not sent: no step beside it
        assert steps_of(asha) == {}
        dispatch_due_deliveries(now=minutes_before(15))
    tick(minutes_before(14))  # sent a minute ago, still inside its wait
    assert steps_of(asha) == {}
    tick(minutes_before(13))  # (15 - 10) / 3 = 1.7 minutes later, no receipt: the ladder goes
    assert steps_of(asha)[1].channel == "whatsapp"


def test_a_decision_on_a_stale_view_makes_no_second_step(course, session, providers):
    """Two decisions at once (a receipt's and the job's) both see no step: the ledger keeps one, and
    the one that lost does not take it for an unusable channel and go on to the next step."""
    from lms.reach import _next_step
    from lms.wanted import session_event_key

    [asha] = enrolled(course, 1)
    tick(minutes_before(30))
    user = {
        "id": asha.pk,
        "email": asha.email,
        "phone": asha.phone,
        "whatsapp_opt_in": True,
        "timezone": asha.timezone,
        "locale": asha.locale,
    }
    with time_machine.travel(minutes_before(30), tick=False):
        assert _next_step(session, session_event_key(session), user, {}, now=minutes_before(30), dry_run=False) == ""
    assert list(steps_of(asha)) == [1]


def test_without_receipts_a_sent_reminder_counts_and_no_step_goes(course, session):
    """Mock mode (file backends, no tracking secret): no receipt can ever come, so a reminder sent
    counts as reached; otherwise every student would get every step."""
    [asha] = enrolled(course, 1)
    reminders.plan_session_reminders_24h(now=START - dt.timedelta(hours=20))
    dispatch_due_deliveries(now=START - dt.timedelta(hours=20))
    assert Delivery.objects.filter(recipient=asha, status=Status.SENT).exists()

    for minutes in (30, 20, 11):
        tick(minutes_before(minutes))
    assert steps_of(asha) == {}


def test_a_channel_without_receipts_counts_when_sent_one_with_receipts_does_not(course, session, graph, settings):
    """WhatsApp on Meta reports receipts; email without ANYMAIL_WEBHOOK_SECRET does not: the email sent
    by the 24 h reminder counts, so the ladder leaves the student alone."""
    settings.META_WHATSAPP_TEMPLATES = {kind: f"{kind}_v1" for kind in ("session_24h", "session_15min", "session_live")}
    settings.ANYMAIL = {key: value for key, value in settings.ANYMAIL.items() if key != "WEBHOOK_SECRET"}
    [asha] = enrolled(course, 1)
    reminders.plan_session_reminders_24h(now=START - dt.timedelta(hours=20))
    dispatch_due_deliveries(now=START - dt.timedelta(hours=20))

    tick(minutes_before(30))
    assert steps_of(asha) == {}


def test_inside_the_starting_soon_window_the_ladder_plans_the_reminder_not_a_step(course, session, providers):
    """The minute job runs before the 15-minute job has planned (it runs every 5 minutes, or is busy
    in another process): the reminder is planned first, so no step goes beside it on the same channel."""
    [asha] = enrolled(course, 1)
    with time_machine.travel(minutes_before(9), tick=False):
        result = run_reach_ladder(now=minutes_before(9))
    assert steps_of(asha) == {}
    assert sorted(Delivery.objects.filter(recipient=asha).values_list("event__kind", "channel")) == [
        (STEPS, "email"),
        (STEPS, "whatsapp"),
    ]
    assert (result.planned["email"], result.planned["whatsapp"]) == (1, 1)

    reminders.plan_session_reminders_15min(now=minutes_before(8))  # the 15-minute job: nothing more
    assert Delivery.objects.filter(recipient=asha).count() == 2
