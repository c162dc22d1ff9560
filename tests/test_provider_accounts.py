"""Providers as they really behave: Postmark's message streams, and account-level errors that pause a channel.

Real HTTP to the fake Postmark and Twilio (tests/fakes.py), answering with their documented
error documents: Postmark's {"ErrorCode": 10, "Message": "..."} with HTTP 401, ErrorCode 405 (out of
credits) with 422; Twilio's error 20003 (authentication) with HTTP 401.
"""

import datetime as dt

import pytest
from django.utils import timezone

from automation.health import check_health
from notifications.models import ChannelPause, Delivery
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from notifications.tests.helpers import plan_session_reminder
from tests.fakes import Reply, postmark_ok, twilio_error

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def plan(kind: str, n: int, *, context=None) -> None:
    """Plan `n` emails of `kind` to people without an account (as leads are)."""
    plan_messages(
        kind=kind,
        messages=[
            PlannedMessage(
                recipient=Recipient(user_id=None, email=f"person{i}@example.com", name=f"Person {i}"),
                event_key=f"{kind}-{i}",
                context={"lead_id": None, "cta_url": "https://school.example/start/", **(context or {})},
            )
            for i in range(n)
        ],
    )


def sent_messages(server) -> list[list[dict]]:
    """The messages of each request the fake Postmark got, request by request."""
    requests = []
    for request in server.requests:
        body = request.json()
        requests.append(body if isinstance(body, list) else [body])
    return requests


# --- Postmark message streams -----------------------------------------------------------------


def test_marketing_goes_through_the_broadcast_stream_and_never_shares_a_request_with_transactional(postmark, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAILS_PER_REQUEST": 10}
    settings.POSTMARK_BROADCAST_STREAM = "broadcast"
    plan("lead_day0", 7)
    plan("cta_rejected", 5, context={"reason": ""})
    dispatch_due_deliveries()

    requests = sent_messages(postmark)
    assert sum(len(request) for request in requests) == 12
    for request in requests:
        kinds = {message["Metadata"]["kind"] for message in request}
        streams = {message.get("MessageStream") for message in request}
        assert kinds in ({"lead_day0"}, {"cta_rejected"}), "a request mixes marketing and transactional mail"
        assert streams == ({"broadcast"} if kinds == {"lead_day0"} else {None})
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}


# --- Account-level errors: pause, never fail ----------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(401, {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."}),
        Reply(422, {"ErrorCode": 405, "Message": "Not allowed to send: you have run out of credits."}),
    ],
    ids=["bad-token", "out-of-credits"],
)
def test_an_account_that_cannot_send_pauses_email_and_no_message_fails(postmark, settings, refusal):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAILS_PER_REQUEST": 1}
    postmark.default = lambda recorded: refusal
    plan("cta_rejected", 50, context={"reason": ""})

    dispatch_due_deliveries()
    assert len(postmark.requests) == 1  # not 50 (or 55): the first refusal pauses the channel
    rows = Delivery.objects.all()
    assert set(rows.values_list("status", flat=True)) == {Status.PENDING}
    assert set(rows.values_list("attempts", flat=True)) == {0}  # no attempt was used up
    pause = ChannelPause.objects.get(channel="email")
    assert pause.until > timezone.now()

    dispatch_due_deliveries()  # while paused, nothing is claimed or sent
    assert len(postmark.requests) == 1

    health = check_health(now=timezone.now(), max_delivery_lag=dt.timedelta(hours=1))
    assert any(problem.startswith("email: sending paused") for problem in health.problems)

    # Someone fixes the account; the next try (after the pause) goes out and lifts the pause.
    postmark.default = postmark_ok
    ChannelPause.objects.update(until=timezone.now() - dt.timedelta(seconds=1))
    Delivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    dispatch_due_deliveries()
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}
    assert not ChannelPause.objects.exists()


def test_a_refused_try_after_the_pause_pauses_longer(postmark, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAILS_PER_REQUEST": 1, "PAUSE_BASE_SECONDS": 60}
    postmark.default = lambda recorded: Reply(401, {"ErrorCode": 10, "Message": "Bad or missing API token."})
    plan("cta_rejected", 3, context={"reason": ""})
    dispatch_due_deliveries()
    first = ChannelPause.objects.get()
    assert 55 <= (first.until - first.since).total_seconds() <= 65

    ChannelPause.objects.update(until=timezone.now() - dt.timedelta(seconds=1))
    Delivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    dispatch_due_deliveries()
    again = ChannelPause.objects.get()
    assert again.failures == 2 and (again.until - timezone.now()).total_seconds() > 100
    assert len(postmark.requests) == 2


def test_a_paused_channel_leaves_the_other_channel_sending(postmark, twilio, student):
    postmark.default = lambda recorded: Reply(401, {"ErrorCode": 10, "Message": "Bad or missing API token."})
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()
    assert Delivery.objects.get(channel="email").status == Status.PENDING
    assert Delivery.objects.get(channel="whatsapp").status == Status.SENT


def test_twilio_authentication_error_pauses_whatsapp(twilio, student):
    twilio.default = lambda recorded: twilio_error(20003, 401, "Authenticate")
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()
    row = Delivery.objects.get(channel="whatsapp")
    assert (row.status, row.attempts) == (Status.PENDING, 0)
    assert ChannelPause.objects.get().channel == "whatsapp"


def test_the_admin_shows_a_banner_while_a_channel_is_paused(admin_client):
    assert b"channel-paused" not in admin_client.get("/admin/").content
    now = timezone.now()
    ChannelPause.objects.create(
        channel="email", reason="Postmark 401: bad server token", since=now, until=now + dt.timedelta(minutes=5)
    )
    page = admin_client.get("/admin/notifications/delivery/").content.decode()
    assert 'data-testid="channel-paused"' in page and "bad server token" in page
