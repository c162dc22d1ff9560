"""Provider webhooks: anymail tracking (Postmark's wire format) and Twilio status callbacks."""

import base64
import datetime as dt

import pytest
from twilio.request_validator import RequestValidator

from notifications.models import Delivery, DeliveryEvent, Suppression
from notifications.services.dispatch import claim_due_deliveries, dispatch_due_deliveries, hand_over

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status
TRACKING = "/anymail/postmark/tracking/"
TWILIO_URL = "https://school.example/webhooks/twilio/status/"


@pytest.fixture
def sent(student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    return {d.channel: d for d in Delivery.objects.all()}


@pytest.fixture
def webhook_secrets(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ["hooks:old-secret", "hooks:new-secret"]}


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def postmark_event(client, payload, secret="hooks:new-secret"):
    return client.post(TRACKING, payload, content_type="application/json", HTTP_AUTHORIZATION=basic(secret))


def delivery_event(delivery, **extra):
    return {
        "RecordType": "Delivery",
        "MessageID": delivery.provider_message_id,
        "Recipient": delivery.to_address,
        "DeliveredAt": "2026-11-24T10:01:00Z",
        "Details": "250 OK",
        "Metadata": {"delivery_id": str(delivery.pk)},
        **extra,
    }


def bounce_event(delivery, kind="HardBounce", bounce_id=1):
    return {
        "RecordType": "Bounce",
        "ID": bounce_id,
        "Type": kind,
        "MessageID": delivery.provider_message_id,
        "Email": delivery.to_address,
        "BouncedAt": "2026-11-24T10:02:00Z",
        "Description": "The server was unable to deliver your message.",
        "Details": "550 5.1.1 user unknown" if kind == "HardBounce" else "452 4.2.2 mailbox full",
        "Metadata": {"delivery_id": str(delivery.pk)},
    }


def test_a_delivered_event_marks_the_delivery_delivered(client, sent, webhook_secrets):
    email = sent["email"]
    assert postmark_event(client, delivery_event(email)).status_code == 200
    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert email.delivered_at == dt.datetime(2026, 11, 24, 10, 1, tzinfo=dt.UTC)


def test_either_rotated_secret_is_accepted_and_a_wrong_one_is_refused(client, sent, webhook_secrets):
    email = sent["email"]
    assert postmark_event(client, delivery_event(email), secret="hooks:old-secret").status_code == 200
    response = postmark_event(client, bounce_event(email), secret="hooks:guess")
    assert response.status_code in (400, 401, 403)
    email.refresh_from_db()
    assert email.status == Status.DELIVERED


def test_a_hard_bounce_suppresses_the_address_and_a_late_delivered_does_not_undo_it(client, sent, webhook_secrets):
    email = sent["email"]
    postmark_event(client, bounce_event(email))
    postmark_event(client, bounce_event(email))  # a duplicate
    postmark_event(client, delivery_event(email))  # late and out of order

    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert email.events.filter(status=Status.BOUNCED).count() == 1
    assert Suppression.objects.get(channel="email", address=email.to_address).reason == "bounced"


def test_a_complaint_suppresses_the_address(client, sent, webhook_secrets):
    email = sent["email"]
    postmark_event(client, {**bounce_event(email), "Type": "SpamComplaint", "RecordType": "SpamComplaint"})
    email.refresh_from_db()
    assert email.status == Status.COMPLAINED
    assert Suppression.objects.get(address=email.to_address).reason == "complained"


def test_soft_bounces_suppress_only_after_the_configured_count(client, student, webhook_secrets, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SOFT_BOUNCE_LIMIT": 2}
    for event in ("1", "2"):
        plan_session_reminder(student, event=event)
        dispatch_due_deliveries(now=NOW)
        email = Delivery.objects.filter(channel="email").latest("id")
        postmark_event(client, bounce_event(email, kind="SoftBounce", bounce_id=int(event)))
        email.refresh_from_db()
        assert email.status == Status.SENT  # a soft bounce is not final
        assert Suppression.objects.exists() is (event == "2")


def test_events_for_unknown_messages_are_ignored(client, webhook_secrets):
    payload = {"RecordType": "Delivery", "MessageID": "nope", "Recipient": "x@example.com", "Metadata": {}}
    assert postmark_event(client, payload).status_code == 200
    assert DeliveryEvent.objects.count() == 0


# --- Twilio ------------------------------------------------------------------------------------


@pytest.fixture
def twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-secret"
    settings.TWILIO_STATUS_CALLBACK_URL = ""
    return "twilio-secret"


def twilio_callback(client, params, *, token="twilio-secret", url=TWILIO_URL, signature=None):
    signature = signature if signature is not None else RequestValidator(token).compute_signature(url, params)
    return client.post("/webhooks/twilio/status/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def status_params(delivery, status, **extra):
    return {
        "MessageSid": delivery.provider_message_id,
        "MessageStatus": status,
        "To": f"whatsapp:{delivery.to_address}",
        "AccountSid": "AC123",
        **extra,
    }


def test_a_signed_twilio_callback_updates_the_delivery(client, sent, twilio_token):
    whatsapp = sent["whatsapp"]
    assert twilio_callback(client, status_params(whatsapp, "delivered")).status_code == 200
    assert twilio_callback(client, status_params(whatsapp, "read")).status_code == 200
    assert twilio_callback(client, status_params(whatsapp, "sent")).status_code == 200  # late: ignored
    whatsapp.refresh_from_db()
    assert whatsapp.status == Status.OPENED
    assert whatsapp.delivered_at and whatsapp.opened_at


def test_forged_or_missing_twilio_signatures_are_refused(client, sent, twilio_token):
    whatsapp = sent["whatsapp"]
    params = status_params(whatsapp, "failed", ErrorCode="30008")
    assert twilio_callback(client, params, token="someone-elses").status_code == 403
    assert twilio_callback(client, params, signature="").status_code == 403
    assert twilio_callback(client, params, url="https://evil.example/hook").status_code == 403
    whatsapp.refresh_from_db()
    assert whatsapp.status == Status.SENT


def test_a_stop_reply_fails_the_message_and_suppresses_the_number(client, sent, twilio_token):
    whatsapp = sent["whatsapp"]
    twilio_callback(client, status_params(whatsapp, "undelivered", ErrorCode="21610"))
    whatsapp.refresh_from_db()
    assert (whatsapp.status, whatsapp.error_code) == (Status.FAILED, "21610")
    assert Suppression.objects.get(channel="whatsapp", address=whatsapp.to_address).reason == "opted_out"


def test_an_unknown_delivery_is_settled_by_the_providers_callback(client, student, twilio_token, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SENDING_LEASE_SECONDS": 60}
    plan_session_reminder(student)
    hand_over(deliveries=claim_due_deliveries(now=NOW, limit=10), now=NOW)
    # The worker died after Twilio accepted the message; only the callback knows its id.
    whatsapp = Delivery.objects.get(channel="whatsapp")
    Delivery.objects.filter(pk=whatsapp.pk).update(provider_message_id="SMcrash1")
    dispatch_due_deliveries(now=NOW + dt.timedelta(minutes=5))
    whatsapp.refresh_from_db()
    assert whatsapp.status == Status.UNKNOWN

    twilio_callback(client, status_params(whatsapp, "delivered"))
    whatsapp.refresh_from_db()
    assert whatsapp.status == Status.DELIVERED
