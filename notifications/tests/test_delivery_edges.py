"""The last edges of the delivery guarantees (issue 25), each over real HTTP to a local fake provider:
reconciliation never gives a message to the wrong row, a live worker keeps its rows, a message's moment
is checked before it goes, a dead worker's claims come back within a minute, Retry-After is honoured,
and a provider that answers nothing sensible pauses its channel instead of failing every message."""

import asyncio
import datetime as dt
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from notifications.channels.base import SendResult
from notifications.conf import conf
from notifications.models import ChannelPause, Delivery, DeliveryEvent
from notifications.services.dispatch import (
    claim_due_deliveries,
    dispatch_due_deliveries,
    hand_over,
    release_expired_claims,
)
from notifications.services.dispatch.record import OutcomeBuffer, record_outcome
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from notifications.services.reconcile import reconcile_unknown_deliveries
from tests.fakes import Reply, postmark_ok, twilio_error, twilio_ok
from tests.smtp import Mailbox

Status = Delivery.Status
PHONE = "+919812345678"
CONTENT_SID = "HX" + "c" * 32


def plan_whatsapp(*amounts: str, phone: str = PHONE, name: str = "Ravi Kumar", link: str = "") -> list[Delivery]:
    """Plan one WhatsApp payment reminder per amount, all to one number (each with a link of its
    own unless `link` is given); return the rows in order."""
    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, phone=phone, whatsapp_opt_in=True, name=name),
                event_key=f"edge-{phone}-{n}",
                context={"amount": amount, "payment_url": link or f"https://pay.example.com/{n}"},
                subject_type="tests.payment",
                subject_id=n,
            )
            for n, amount in enumerate(amounts)
        ),
    )
    return list(Delivery.objects.filter(channel="whatsapp", to_address=phone).order_by("id"))


@pytest.fixture
def twilio_payments(twilio, settings):
    settings.TWILIO_CONTENT_SIDS = {"payment_reminder": CONTENT_SID}
    return twilio


def delivery_id_of(message: dict) -> int:
    return int(parse_qs(urlsplit(message["status_callback"]).query)["delivery_id"][0])


def reconcile_now() -> None:
    later = timezone.now() + dt.timedelta(seconds=conf.reconcile_after_seconds + 1)
    reconcile_unknown_deliveries(now=later)


# --- 1, 2: reconciliation matches by content --------------------------------------------------------


def test_a_message_found_at_twilio_settles_only_the_row_whose_content_it_carries(db, twilio_payments):
    # Row A's request was reset before Twilio took it; row B's reached Twilio and its answer was lost.
    never_sent, reached = plan_whatsapp("₹5,000", "₹7,500")
    twilio_payments.queue(Reply(reset=True), Reply(201, drop=True))
    twilio_payments.default = lambda recorded: Reply(201, drop=True)
    dispatch_due_deliveries()
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.UNKNOWN}
    twilio_payments.default = twilio_ok

    reconcile_now()

    never_sent.refresh_from_db()
    reached.refresh_from_db()
    (kept,) = twilio_payments.messages
    assert delivery_id_of(kept) == reached.pk
    assert (reached.status, reached.provider_message_id) == (Status.SENT, kept["sid"])
    assert never_sent.status == Status.PENDING  # not at Twilio: queued again, never given B's message

    dispatch_due_deliveries(now=timezone.now() + dt.timedelta(minutes=5))
    never_sent.refresh_from_db()
    assert never_sent.status == Status.SENT
    accepted = sorted(delivery_id_of(message) for message in twilio_payments.messages)
    assert accepted == sorted([never_sent.pk, reached.pk])  # each exactly once


def test_two_or_three_messages_to_one_number_within_minutes_all_settle_from_their_content(db, twilio_payments):
    rows = plan_whatsapp("₹5,000", "₹7,500", "₹12,000")
    twilio_payments.default = lambda recorded: Reply(201, drop=True)  # Twilio takes each; every answer is lost
    dispatch_due_deliveries()
    assert Delivery.objects.filter(status=Status.UNKNOWN).count() == 3
    twilio_payments.default = twilio_ok

    reconcile_now()

    sids = {delivery_id_of(message): message["sid"] for message in twilio_payments.messages}
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.provider_message_id) == (Status.SENT, sids[row.pk])


def test_two_rows_to_one_number_that_cannot_be_told_apart_are_not_settled_by_guessing(db, twilio_payments):
    # The same amount and link: the same content. One reached Twilio, the other never did.
    first, _ = plan_whatsapp("₹5,000", "₹5,000", link="https://pay.example.com/same")
    twilio_payments.queue(Reply(201, drop=True), Reply(reset=True))
    dispatch_due_deliveries()
    twilio_payments.default = twilio_ok

    reconcile_now()

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.UNKNOWN}
    assert DeliveryEvent.objects.filter(delivery_id=first.pk, detail__contains="could have sent the same").exists()
    assert len(twilio_payments.requests) == 2  # nothing sent again


def test_a_message_carrying_one_rows_content_and_more_is_the_row_that_says_more(db, twilio, settings):
    # A moved session: its old "starting soon" (title, link) and its new "tomorrow" (title, time, link)
    # to one number. Only "tomorrow" reached Twilio; both answers were lost.
    settings.TWILIO_CONTENT_SIDS = {"session_15min": "HX" + "1" * 32, "session_24h": "HX" + "2" * 32}
    context = {"title": "Plotting", "join_url": "https://meet.example.com/plot"}
    for kind, extra in (("session_15min", {}), ("session_24h", {"when": "Thu, 26 Nov, 7:00 pm IST"})):
        plan_messages(
            kind=kind,
            messages=[
                PlannedMessage(
                    recipient=Recipient(user_id=None, phone=PHONE, whatsapp_opt_in=True, name="Ravi Kumar"),
                    event_key=f"moved-{kind}",
                    context=context | extra,
                    subject_type="tests.session",
                    subject_id=1,
                )
            ],
        )
    soon = Delivery.objects.get(event__kind="session_15min", channel="whatsapp")
    tomorrow = Delivery.objects.get(event__kind="session_24h", channel="whatsapp")
    twilio.queue(Reply(reset=True), Reply(201, drop=True))  # "starting soon" goes first (priority 0)
    dispatch_due_deliveries()
    assert set(Delivery.objects.filter(channel="whatsapp").values_list("status", flat=True)) == {Status.UNKNOWN}
    twilio.default = twilio_ok

    reconcile_now()

    soon.refresh_from_db()
    tomorrow.refresh_from_db()
    (kept,) = twilio.messages
    assert delivery_id_of(kept) == tomorrow.pk
    assert (tomorrow.status, tomorrow.provider_message_id) == (Status.SENT, kept["sid"])
    assert soon.status == Status.PENDING  # never at Twilio: not given the other's message, not left unknown


# --- 3: a live worker keeps its rows; its definite answer wins ------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_slow_worker_keeps_its_rows_when_a_second_worker_starts_mid_run(twilio_payments, settings):
    """Twilio takes 2.5 s a message and the lease is 2 s: the first worker's heartbeat keeps its rows,
    so the second worker, starting while a request is in flight, neither declares them dead nor sends them."""
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SENDING_LEASE_SECONDS": 2}
    settings.TWILIO_TIMEOUT = 10  # slow, never timed out
    plan_whatsapp("₹1,000", "₹2,000", "₹3,000", "₹4,000")
    twilio_payments.latency = 2.5
    first = threading.Thread(target=dispatch_due_deliveries)
    first.start()
    try:
        while len(twilio_payments.requests) < 2:
            time.sleep(0.05)
        time.sleep(2.2)  # the second request has been in flight longer than a lease
        second = dispatch_due_deliveries()
    finally:
        first.join(timeout=60)

    assert second.processed == 0
    sids = {delivery_id_of(message): message["sid"] for message in twilio_payments.messages}
    assert len(twilio_payments.messages) == 4 and len(sids) == 4  # each accepted exactly once
    for row in Delivery.objects.all():
        assert (row.status, row.provider_message_id) == (Status.SENT, sids[row.pk])
    assert not DeliveryEvent.objects.filter(status=Status.UNKNOWN).exists()


def test_a_workers_sent_answer_wins_over_unknown_declared_meanwhile(db):
    (row,) = plan_whatsapp("₹5,000")
    (claimed,) = claim_due_deliveries(now=timezone.now(), limit=10)
    hand_over(deliveries=[claimed], now=timezone.now())
    # Its worker looked dead (its heartbeat lost); the lease ran out while the request was out.
    release_expired_claims(now=timezone.now() + dt.timedelta(hours=1))
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN

    buffer = OutcomeBuffer(clock=timezone.now)
    record_outcome(delivery=claimed, result=SendResult.sent("SM-the-real-one"), now=timezone.now(), outcomes=buffer)
    buffer.flush()

    row.refresh_from_db()
    assert (row.status, row.provider_message_id) == (Status.SENT, "SM-the-real-one")


# --- 4: each message's moment is checked before it goes -------------------------------------------


class SlowMailbox(Mailbox):
    """An SMTP server taking a second a message; keeps when each message arrived."""

    def __init__(self):
        super().__init__()
        self.arrived: list[tuple[str, dt.datetime]] = []

    async def handle_DATA(self, server, session, envelope):
        self.arrived.append((envelope.rcpt_tos[0], dt.datetime.now(dt.UTC)))
        await asyncio.sleep(1)
        return await super().handle_DATA(server, session, envelope)


def test_emails_sent_one_by_one_are_not_sent_after_their_moment(db, settings):
    mailbox = SlowMailbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        moment = timezone.now() + dt.timedelta(seconds=2.5)
        plan_messages(
            kind="payment_reminder",
            messages=(
                PlannedMessage(
                    recipient=Recipient(user_id=None, email=f"soon{i}@example.com", name=f"Soon {i}"),
                    event_key=f"soon-{i}",
                    context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                    subject_type="tests.payment",
                    subject_id=i,
                    expires_at=moment,
                )
                for i in range(5)
            ),
        )
        dispatch_due_deliveries()  # one request of five: the gate passes them all at once
    finally:
        controller.stop()

    assert mailbox.arrived, "nothing was sent"
    assert all(arrived < moment for _, arrived in mailbox.arrived), (moment, mailbox.arrived)
    statuses = list(Delivery.objects.values_list("status", flat=True))
    assert statuses.count(Status.SENT) == len(mailbox.arrived)
    assert statuses.count(Status.EXPIRED) == 5 - len(mailbox.arrived) > 0


def test_a_postmark_batch_is_cut_to_end_before_the_earliest_moment_in_it(db, postmark, settings):
    """Postmark takes a second an email and accepts a batch only when it answers: one request of six
    would end a second after the moment; cut to the provider's pace, none is taken after it."""
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAILS_PER_REQUEST": 10}

    def slowly(recorded):
        ok = postmark_ok(recorded)
        count = len(ok.body) if isinstance(ok.body, list) else 1
        return Reply(ok.status, ok.body, delay=1.0 * count, accept_at_end=True)

    postmark.default = slowly
    moment = timezone.now() + dt.timedelta(seconds=5)
    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, email=f"batch{i}@example.com", name=f"Batch {i}"),
                event_key=f"batch-soon-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="tests.payment",
                subject_id=i,
                expires_at=moment,
            )
            for i in range(6)
        ),
    )
    dispatch_due_deliveries()

    taken = [dt.datetime.fromisoformat(email["ReceivedAt"]) for email in postmark.emails]
    assert taken and all(at < moment for at in taken), (moment, taken)
    statuses = list(Delivery.objects.values_list("status", flat=True))
    assert statuses.count(Status.SENT) == len(taken)
    assert statuses.count(Status.EXPIRED) == 6 - len(taken)


# --- 5: a dead worker's claims come back within a minute ------------------------------------------


def test_a_dead_workers_never_sent_claims_return_within_a_minute(db):
    plan_whatsapp(*(f"₹{n},000" for n in range(1, 21)))
    died = timezone.now()
    claimed = claim_due_deliveries(now=died, limit=500)  # then the worker is SIGKILLed: no more heartbeats
    assert len(claimed) == 20

    released = release_expired_claims(now=died + dt.timedelta(seconds=60))

    assert released.requeued == 20
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}


# --- 7: Retry-After; a provider that answers nothing sensible pauses the channel ------------------


def test_twilios_retry_after_is_honoured(db, twilio_payments, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "RETRY_BASE_SECONDS": 1}
    (row,) = plan_whatsapp("₹5,000")
    limited = twilio_error(20429, status=429, message="Too Many Requests")
    twilio_payments.queue(Reply(limited.status, limited.body, headers={"Retry-After": "30"}))
    before = timezone.now()
    dispatch_due_deliveries()

    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert row.next_attempt_at >= before + dt.timedelta(seconds=30)


def test_a_wrong_postmark_url_answering_404_to_everything_pauses_email_and_fails_nothing(db, postmark, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "EMAILS_PER_REQUEST": 10}
    postmark.default = lambda recorded: Reply(404, {"Message": "Not Found"})
    plan_messages(
        kind="payment_reminder",
        messages=(
            PlannedMessage(
                recipient=Recipient(user_id=None, email=f"payer{i}@example.com", name=f"Payer {i}"),
                event_key=f"wrong-url-{i}",
                context={"amount": "₹5,000", "payment_url": "https://pay.example.com/x"},
                subject_type="tests.payment",
                subject_id=i,
            )
            for i in range(30)
        ),
    )
    dispatch_due_deliveries()
    dispatch_due_deliveries()

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert ChannelPause.objects.filter(channel="email").exists()
    assert len(postmark.requests) == 1  # one request found it out; the channel waits
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {0}


def test_a_twilio_answering_404_to_everything_pauses_whatsapp_and_fails_nothing(db, twilio_payments):
    twilio_payments.default = lambda recorded: Reply(404, {"code": 20404, "message": "not found", "status": 404})
    plan_whatsapp("₹1,000", "₹2,000", "₹3,000")
    dispatch_due_deliveries()

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert ChannelPause.objects.filter(channel="whatsapp").exists()
    assert len(twilio_payments.requests) == 1


def test_an_unreachable_twilio_pauses_whatsapp_and_fails_nothing(db, twilio_payments, settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "MAX_ATTEMPTS": 2}
    plan_whatsapp("₹1,000", "₹2,000", "₹3,000")
    for hours in range(0, 10):  # hours of outage, far past the attempts a message has
        dispatch_due_deliveries(now=timezone.now() + dt.timedelta(hours=hours))

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert ChannelPause.objects.filter(channel="whatsapp").exists()
