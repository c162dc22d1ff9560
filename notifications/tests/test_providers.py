"""Real HTTP to local fake providers: anymail's Postmark backend and Twilio's client, on the wire."""

import datetime as dt
import json

import pytest

from notifications.channels.whatsapp.twilio import WhatsAppBackend as TwilioBackend
from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from tests.fakes import FakeProvider, Reply, postmark_ok, twilio_error, twilio_ok

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status


@pytest.fixture
def postmark(settings):
    with FakeProvider(default=postmark_ok) as server:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-token", "POSTMARK_API_URL": server.url + "/"}
        yield server


@pytest.fixture
def twilio(settings):
    with FakeProvider(default=twilio_ok) as server:
        settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.twilio.WhatsAppBackend"
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "secret"
        settings.TWILIO_WHATSAPP_FROM = "+14155238886"
        settings.TWILIO_API_BASE_URL = server.url
        settings.TWILIO_CONTENT_SIDS = {"session_24h": "HX" + "a" * 32}
        settings.TWILIO_TIMEOUT = 2
        yield server


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

    assert [request.path for request in proxy.requests] == ["http://esp.example.invalid/email"] * 2
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
    assert form["StatusCallback"] == "https://school.example/webhooks/twilio/status/"
    assert request.headers["Authorization"].startswith("Basic ")
    delivery = Delivery.objects.get(channel="whatsapp")
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
