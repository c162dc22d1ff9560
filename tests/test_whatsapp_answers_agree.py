"""A provider's word counts the same whichever way it arrives: in the answer to a send, or by a
signed webhook to the real view, before or after the worker records that answer (fake Graph API
and fake Twilio over real HTTP, the real ledger and dispatch)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from notifications.models import ChannelPause, Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.dispatch.claim import release_expired_claims
from notifications.tests.helpers import NOW, plan_session_reminder
from tests.fake_graph import APP_SECRET, graph_error, graph_ok, signed, status_update, webhook

Status = Delivery.Status
WEBHOOK = "/webhooks/meta/whatsapp/"
UNDELIVERABLE = "Receiver is incapable of receiving this message"


def post_meta(client, statuses: list[dict]):
    body, signature = signed(webhook({"statuses": statuses}), APP_SECRET)
    return client.post(WEBHOOK, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


def whatsapp_row(event: str) -> Delivery:
    return Delivery.objects.get(channel="whatsapp", event__key=f"session_24h:{event}")


# --- 131026 counts like a soft bounce, whichever way it arrives ----------------------------------


@pytest.mark.django_db
def test_undeliverable_131026_in_the_answer_to_a_send_suppresses_the_number_at_the_soft_bounce_limit(
    graph, student, settings
):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SOFT_BOUNCE_LIMIT": 3}
    for n in range(3):
        assert not Suppression.objects.exists()  # counted, not suppressed, below the limit
        graph.queue(graph_error(131026, "Message undeliverable", details=UNDELIVERABLE))
        plan_session_reminder(student, event=f"4{n}@20261125T0430")
        dispatch_due_deliveries(now=NOW)
        assert whatsapp_row(f"4{n}@20261125T0430").status == Status.FAILED
    suppression = Suppression.objects.get(channel="whatsapp", address=student.phone)
    assert (suppression.category, suppression.reason) == ("", "invalid") and "3 times" in suppression.detail

    plan_session_reminder(student, event="43@20261125T0430")  # the next message is not sent
    dispatch_due_deliveries(now=NOW)
    assert whatsapp_row("43@20261125T0430").status == Status.SUPPRESSED
    assert len(graph.sent()) == 3


@pytest.mark.django_db
def test_131026_by_webhook_and_in_send_answers_add_up_to_one_limit(client, graph, student, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SOFT_BOUNCE_LIMIT": 3}
    plan_session_reminder(student, event="40@20261125T0430")
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row("40@20261125T0430")
    failed = status_update(
        row.provider_message_id, "failed", recipient=row.to_address, errors=[{"code": 131026, "title": "Undeliverable"}]
    )
    assert post_meta(client, [failed]).status_code == 200  # 1, by webhook
    for n in (1, 2):  # 2 and 3, in the answer to the send
        assert not Suppression.objects.exists()
        graph.queue(graph_error(131026, "Message undeliverable", details=UNDELIVERABLE))
        plan_session_reminder(student, event=f"4{n}@20261125T0430")
        dispatch_due_deliveries(now=NOW)
    assert Suppression.objects.get(channel="whatsapp", address=student.phone).category == ""


# --- An account error reported while its row is still `sending` -----------------------------------
# The provider's webhook overtakes its own answer to the send: it is applied while the worker has
# not yet recorded "accepted". Threads, so the database is committed (transaction=True).


@pytest.fixture(autouse=True)
def one_whatsapp_request_at_a_time(settings):
    """A webhook here overtakes the answer to one send, in the fake provider's thread, with a
    connection of its own: one request at a time keeps the worker's thread out of the database
    meanwhile (SQLite's in-memory test database locks a whole table across connections)."""
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "DISPATCH_CONCURRENCY": {"email": 4, "whatsapp": 1}}


ACCOUNT_FAILURES = [(131042, "Business eligibility payment issue"), (131057, "Account in maintenance mode")]


def failing_before_the_answer(code: int, title: str, posted: list[int], *, message_id: str = ""):
    """A Graph API that accepts a message, and whose `failed` status webhook for it (signed, to the
    real view) arrives before its answer to the send reaches the worker."""

    def answer(recorded):
        reply = graph_ok(recorded)
        sent = recorded.json()
        failed = status_update(
            message_id or reply.body["messages"][0]["id"],
            "failed",
            recipient=sent["to"],
            delivery_id=int(sent["biz_opaque_callback_data"].removeprefix("delivery:")),
            errors=[{"code": code, "title": title, "message": title, "error_data": {"details": title}}],
        )
        posted.append(post_meta(Client(), [failed]).status_code)
        return reply

    return answer


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("code", "title"), ACCOUNT_FAILURES)
def test_an_account_error_reported_before_the_send_is_recorded_requeues_the_message_without_an_attempt(
    graph, student, code, title
):
    posted = []
    graph.accept = failing_before_the_answer(code, title, posted)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)

    row = whatsapp_row("42@20261125T0430")
    assert posted == [200]
    assert (row.status, row.attempts, row.error_code) == (Status.PENDING, 0, str(code))  # not `sent`
    pause = ChannelPause.objects.get(channel="whatsapp")
    assert row.next_attempt_at == pause.until and not Suppression.objects.exists()

    graph.accept = graph_ok  # the account is fixed: it goes once the pause ends
    dispatch_due_deliveries(now=pause.until + dt.timedelta(seconds=1))
    row.refresh_from_db()
    assert (row.status, row.attempts, len(graph.sent())) == (Status.SENT, 1, 2)
    assert row.provider_message_id.startswith("wamid.")


@pytest.mark.django_db(transaction=True)
def test_meta_delivering_an_earlier_messages_failure_again_never_undoes_the_message_in_flight(graph, student):
    posted = []
    graph.accept = failing_before_the_answer(131042, "Business eligibility payment issue", posted)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    first = whatsapp_row("42@20261125T0430")
    failed_id = first.provider_message_id
    pause = ChannelPause.objects.get(channel="whatsapp")

    # The next try is accepted as a new message, while Meta delivers the first one's failure again.
    graph.accept = failing_before_the_answer(131042, "Business eligibility payment issue", posted, message_id=failed_id)
    dispatch_due_deliveries(now=pause.until + dt.timedelta(seconds=1))
    row = whatsapp_row("42@20261125T0430")
    assert posted == [200, 200]
    assert row.status == Status.SENT and row.attempts == 1
    assert row.provider_message_id not in ("", failed_id)


@pytest.mark.django_db(transaction=True)
def test_a_second_try_whose_account_error_also_overtakes_the_answer_goes_back_to_pending_too(graph, student):
    posted = []
    graph.accept = failing_before_the_answer(131042, "Business eligibility payment issue", posted)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    first = whatsapp_row("42@20261125T0430")
    # The pause's time comes (in real time: the webhook's pause runs on the real clock); still unpaid.
    ChannelPause.objects.update(until=timezone.now())
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    dispatch_due_deliveries()

    row = whatsapp_row("42@20261125T0430")
    assert posted == [200, 200] and len(graph.sent()) == 2
    assert (row.status, row.attempts) == (Status.PENDING, 0)
    assert row.provider_message_id not in ("", first.provider_message_id)  # the second message's
    pause = ChannelPause.objects.get(channel="whatsapp")  # paused again, longer; not lifted by "accepted"
    assert pause.failures == 2 and row.next_attempt_at == pause.until


@pytest.mark.django_db(transaction=True)
def test_the_workers_acceptance_wins_over_unknown_but_not_over_metas_failure_of_that_message(graph, student):
    posted = []
    fail_by_webhook = failing_before_the_answer(131042, "Business eligibility payment issue", posted)

    def lease_ends_then_meta_reports(recorded):
        # The worker is slow to hear back: its lease is declared dead (`unknown`), then Meta's
        # failure for the message arrives, then its answer ("accepted") reaches the worker.
        release_expired_claims(now=timezone.now() + dt.timedelta(hours=1))
        assert Delivery.objects.get(channel="whatsapp").status == Status.UNKNOWN
        return fail_by_webhook(recorded)

    graph.accept = lease_ends_then_meta_reports
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row("42@20261125T0430")
    assert posted == [200]
    assert (row.status, row.attempts) == (Status.PENDING, 0)  # the provider's word on that message stands

    def lease_ends(recorded):
        release_expired_claims(now=timezone.now() + dt.timedelta(hours=1))
        return graph_ok(recorded)

    graph.accept = lease_ends  # without a failure, the worker's "accepted" still wins over `unknown`
    dispatch_due_deliveries(now=ChannelPause.objects.get().until + dt.timedelta(seconds=1))
    row.refresh_from_db()
    assert row.status == Status.SENT and len(graph.sent()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_try_again_failure_reported_before_the_send_is_recorded_retries_the_message(graph, student):
    posted = []
    graph.accept = failing_before_the_answer(131000, "Something went wrong", posted)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)

    row = whatsapp_row("42@20261125T0430")
    assert posted == [200]
    assert (row.status, row.attempts, row.error_code) == (Status.PENDING, 1, "131000")  # the attempt counts
    assert not ChannelPause.objects.exists() and row.next_attempt_at > row.updated_at


def twilio_failing_before_the_answer(client: Client, error_code: str, posted: list[int]):
    """Twilio's status callback for a message it accepted, arriving before its 201 answer."""

    def call_back(message: dict) -> None:
        params = {
            "MessageSid": message["sid"],
            "MessageStatus": "failed",
            "ErrorCode": error_code,
            "To": message["to"],
            "From": message["from"],
            "AccountSid": "AC" + "1" * 32,
        }
        url = message["status_callback"]
        signature = RequestValidator("secret").compute_signature(url, params)
        path = url.removeprefix("https://school.example")
        posted.append(client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code)

    return call_back


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error_code", ["63040", "20005"])
def test_a_twilio_account_error_called_back_before_the_answer_requeues_the_message(
    twilio, student, settings, error_code
):
    settings.SITE_URL, settings.TWILIO_STATUS_CALLBACK_URL = "https://school.example", ""
    posted = []
    twilio.on_accept = twilio_failing_before_the_answer(Client(), error_code, posted)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)

    row = whatsapp_row("42@20261125T0430")
    assert posted == [200]
    assert (row.status, row.attempts, row.error_code) == (Status.PENDING, 0, error_code)
    assert row.next_attempt_at == ChannelPause.objects.get(channel="whatsapp").until
