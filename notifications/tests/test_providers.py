"""Real HTTP to local fake providers: anymail's Postmark backend and Twilio's client, on the wire."""

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model

from notifications.channels.whatsapp.twilio import WhatsAppBackend as TwilioBackend
from notifications.models import Delivery, DeliveryEvent, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages
from tests.fakes import FakeProvider, Reply, postmark_accepted, postmark_ok, twilio_error

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def postmark_result(message: dict, n: int, error: int = 0, text: str = "OK") -> dict:
    if error:
        return {"ErrorCode": error, "Message": text}
    return postmark_accepted(message, f"pm-batch-{n}")


def emails_only(student):
    student.whatsapp_opt_in = False
    return student


def test_email_goes_through_anymail_to_the_esp_with_the_delivery_id_in_metadata(student, postmark):
    plan_session_reminder(emails_only(student))
    dispatch_due_deliveries(now=NOW)

    assert len(postmark.requests) == 1
    request = postmark.requests[0]
    assert request.path == "/email"
    assert request.headers["X-Postmark-Server-Token"] == "test-token"
    body = request.json()
    delivery = Delivery.objects.get(channel="email")
    assert body["To"] == "asha@example.com"
    assert body["Subject"] == "Starts Tomorrow: Python Basics"
    assert body["Metadata"] == {"delivery_id": str(delivery.pk), "kind": "session_24h"}
    assert "Join Meeting" in body["HtmlBody"] and "starts tomorrow" in body["TextBody"]
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id.startswith("pm-")


def test_esp_rate_limit_and_server_errors_are_retried_then_succeed(student, postmark):
    postmark.queue(Reply(429, {"ErrorCode": 429, "Message": "Rate limited"}), Reply(503, {"Message": "down"}))
    plan_session_reminder(emails_only(student))

    dispatch_due_deliveries(now=NOW)
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.error_code) == (Status.PENDING, "http_429")
    dispatch_due_deliveries(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == (Status.PENDING, "http_503")
    dispatch_due_deliveries(now=delivery.next_attempt_at)
    delivery.refresh_from_db()

    assert delivery.status == Status.SENT
    assert delivery.attempts == 3
    assert len(postmark.requests) == 3


def test_esp_refusing_the_recipient_fails_at_once(student, postmark):
    postmark.queue(Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'asha@example.com'."}))
    plan_session_reminder(emails_only(student))
    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=6))

    assert len(postmark.requests) == 1
    assert Delivery.objects.get(channel="email").status == Status.FAILED


def test_esp_timeout_after_the_request_went_out_is_unknown_and_not_resent(student, postmark, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 0.5}
    postmark.queue(Reply(200, {"ErrorCode": 0, "Message": "OK", "MessageID": "late", "To": "x"}, delay=1.5))
    plan_session_reminder(emails_only(student))
    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=6))

    assert len(postmark.requests) == 1
    delivery = Delivery.objects.get(channel="email")
    assert delivery.status == Status.UNKNOWN
    assert delivery.error_code == "network"


def test_unreachable_esp_is_retried_later(student, settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t", "POSTMARK_API_URL": "http://127.0.0.1:9/"}
    plan_session_reminder(emails_only(student))
    dispatch_due_deliveries(now=NOW)
    assert Delivery.objects.get(channel="email").status == Status.PENDING


def test_email_still_goes_through_the_proxy_that_the_environment_names(student, settings, monkeypatch):
    # The channel reads proxies from the environment once per batch instead of once per message.
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FakeProvider(default=postmark_ok) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t", "POSTMARK_API_URL": "http://esp.example.invalid/"}
        plan_session_reminder(emails_only(student))
        plan_session_reminder(emails_only(student), event="43@20261125T0430")
        dispatch_due_deliveries(now=NOW)

    assert [request.path for request in proxy.requests] == ["http://esp.example.invalid/email/batch"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}


def test_twilio_gets_a_template_message_with_content_sid_and_variables_and_no_body(student, twilio, postmark):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)

    assert len(twilio.requests) == 1
    request = twilio.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{'AC' + '1' * 32}/Messages.json"
    form = request.form()
    assert form["To"] == "whatsapp:+919876543210"
    assert form["From"] == "whatsapp:+14155238886"
    assert form["ContentSid"] == "HX" + "a" * 32
    assert json.loads(form["ContentVariables"]) == {
        "1": "Asha",
        "2": "Python Basics",
        "3": "Wed, 25 Nov 2026, 10:00 am IST",
        "4": "https://meet.example.com/python",
    }
    assert "Body" not in form
    delivery = Delivery.objects.get(channel="whatsapp")
    # Our delivery id rides in the callback URL (Twilio signs the whole URL), so a callback finds its
    # row even before the worker has recorded Twilio's message id.
    assert form["StatusCallback"] == f"https://school.example/webhooks/twilio/status/?delivery_id={delivery.pk}"
    assert request.headers["Authorization"].startswith("Basic ")
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id.startswith("SM")
    assert "Python Basics" in delivery.rendered_text


def test_twilio_invalid_number_fails_at_once_and_suppresses_it(student, twilio, postmark):
    twilio.queue(twilio_error(21211, message="The 'To' number is not a valid phone number."))
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=6))

    assert len(twilio.requests) == 1
    delivery = Delivery.objects.get(channel="whatsapp")
    assert (delivery.status, delivery.error_code) == (Status.FAILED, "21211")
    assert Suppression.objects.filter(channel="whatsapp", address="+919876543210").exists()


def test_twilio_rate_limit_is_retried_then_succeeds(student, twilio, postmark):
    twilio.queue(twilio_error(20429, status=429, message="Too Many Requests"))
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    delivery = Delivery.objects.get(channel="whatsapp")
    assert delivery.status == Status.PENDING
    dispatch_due_deliveries(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert len(twilio.requests) == 2


def test_a_kind_without_an_approved_template_fails_without_calling_twilio(student, twilio, postmark, settings):
    settings.TWILIO_CONTENT_SIDS = {}
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    delivery = Delivery.objects.get(channel="whatsapp")
    assert (delivery.status, delivery.error_code) == (Status.FAILED, "no_template")
    assert twilio.requests == []


def test_twilio_backend_can_use_a_messaging_service_as_sender(twilio):
    from notifications.channels.whatsapp import WhatsAppMessage

    backend = TwilioBackend(from_="MG" + "b" * 32)
    result = backend.send(WhatsAppMessage(to="+919876543210", kind="session_24h", body="x", content_sid="HX1"))
    assert result.provider_message_id.startswith("SM")
    assert twilio.requests[0].form()["MessagingServiceSid"] == "MG" + "b" * 32


def plan_students(count: int, *, prefix: str = "s") -> list:
    users = [
        get_user_model().objects.create_user(email=f"{prefix}{n}@example.com", name=f"Student {n}")
        for n in range(count)
    ]
    for user in users:
        plan_session_reminder(user)
    return users


def test_a_batch_of_emails_goes_to_postmark_in_one_request_each_with_its_own_delivery_id(db, postmark):
    plan_students(3)
    result = dispatch_due_deliveries(now=NOW)

    assert result.sent == 3
    assert [request.path for request in postmark.requests] == ["/email/batch"]
    assert postmark.requests[0].headers["X-Postmark-Server-Token"] == "test-token"
    messages = postmark.requests[0].json()
    deliveries = {str(d.pk): d for d in Delivery.objects.all()}
    assert sorted(m["Metadata"]["delivery_id"] for m in messages) == sorted(deliveries)
    for message in messages:
        delivery = deliveries[message["Metadata"]["delivery_id"]]
        assert message["To"] == delivery.to_address
        assert {"Name": "X-Delivery-ID", "Value": str(delivery.pk)} in message["Headers"]
        assert delivery.status == Status.SENT
        assert delivery.provider_message_id.startswith("pm-batch-")
        assert delivery.rendered_subject == message["Subject"] == "Starts Tomorrow: Python Basics"
        assert delivery.rendered_text == message["TextBody"]
    assert len({d.provider_message_id for d in deliveries.values()}) == 3


def test_marketing_emails_in_a_batch_keep_their_own_one_click_unsubscribe_headers(db, postmark):
    plan_messages(
        kind="lead_day0",
        now=NOW,
        messages=[
            PlannedMessage(
                recipient=Recipient(user_id=None, email=f"lead{n}@example.com", name=f"Lead {n}"),
                event_key=str(n),
                context={"cta_url": "https://school.example/start/"},
            )
            for n in range(2)
        ],
    )
    dispatch_due_deliveries(now=NOW)

    messages = postmark.requests[0].json()
    assert postmark.requests[0].path == "/email/batch" and len(messages) == 2
    links = set()
    for message in messages:
        headers = {header["Name"]: header["Value"] for header in message["Headers"]}
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert headers["List-Unsubscribe"].startswith("<https://school.example/unsubscribe/")
        assert headers["List-Unsubscribe"].strip("<>") in message["TextBody"]
        links.add(headers["List-Unsubscribe"])
    assert len(links) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}


def test_each_email_of_a_batch_gets_its_own_outcome_from_postmark(db, postmark):
    users = plan_students(3)

    def answer(recorded):
        body = recorded.json()
        results = [postmark_result(message, n) for n, message in enumerate(body)]
        refused = {message["To"]: n for n, message in enumerate(body)}
        results[refused[users[1].email]] = postmark_result(
            {}, 0, error=300, text=f"Invalid 'To' address: '{users[1].email}'."
        )
        results[refused[users[2].email]] = postmark_result(
            {},
            0,
            error=406,
            text=f"You tried to send to recipient(s) that have been marked as inactive. Found inactive "
            f"addresses: {users[2].email}. Inactive recipients are ones that have generated a hard bounce.",
        )
        return Reply(200, results)

    postmark.default = answer
    result = dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=6))

    assert len(postmark.requests) == 1
    status = {d.to_address: (d.status, d.error_code) for d in Delivery.objects.all()}
    assert status == {
        users[0].email: (Status.SENT, ""),
        users[1].email: (Status.FAILED, "recipient_refused"),
        users[2].email: (Status.FAILED, "recipient_refused"),
    }
    assert result.outcomes == {Status.SENT: 1, Status.FAILED: 2, Status.UNKNOWN: 0}
    assert Suppression.objects.filter(channel="email", address=users[1].email).exists()
    assert DeliveryEvent.objects.count() == 3


def test_a_batch_postmark_rate_limits_is_retried_for_every_email_of_it(db, postmark):
    plan_students(3)
    postmark.queue(Reply(429, {"ErrorCode": 429, "Message": "Rate limited"}, headers={"Retry-After": "120"}))
    dispatch_due_deliveries(now=NOW)

    deliveries = list(Delivery.objects.all())
    assert {(d.status, d.error_code) for d in deliveries} == {(Status.PENDING, "http_429")}
    assert all(d.next_attempt_at >= NOW + dt.timedelta(seconds=120) for d in deliveries)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=1))
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}
    assert [len(request.json()) for request in postmark.requests] == [3, 3]


def test_a_batch_postmark_refuses_as_a_whole_is_sent_one_email_at_a_time(db, postmark):
    users = plan_students(2)
    postmark.queue(
        Reply(422, {"ErrorCode": 300, "Message": "Invalid request"}),
        Reply(200, {"To": users[0].email, "MessageID": "pm-one", "ErrorCode": 0, "Message": "OK"}),
        Reply(422, {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{users[1].email}'."}),
    )
    dispatch_due_deliveries(now=NOW)

    assert [request.path for request in postmark.requests] == ["/email/batch", "/email", "/email"]
    status = {d.to_address: (d.status, d.provider_message_id) for d in Delivery.objects.all()}
    assert status == {users[0].email: (Status.SENT, "pm-one"), users[1].email: (Status.FAILED, "")}


def test_a_batch_whose_answer_is_lost_leaves_every_email_of_it_unknown_and_unsent_again(db, postmark, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 0.5}
    plan_students(3)
    postmark.queue(Reply(200, [], delay=1.5))
    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=6))

    assert len(postmark.requests) == 1
    assert {(d.status, d.error_code) for d in Delivery.objects.all()} == {(Status.UNKNOWN, "network")}


def test_a_batch_answer_that_does_not_match_the_emails_leaves_them_unknown(db, postmark):
    plan_students(3)
    postmark.queue(Reply(200, [{"To": "someone@else.example", "MessageID": "x", "ErrorCode": 0, "Message": "OK"}]))
    dispatch_due_deliveries(now=NOW)
    dispatch_due_deliveries(now=NOW + dt.timedelta(hours=6))

    assert len(postmark.requests) == 1
    assert {(d.status, d.error_code) for d in Delivery.objects.all()} == {(Status.UNKNOWN, "provider")}
