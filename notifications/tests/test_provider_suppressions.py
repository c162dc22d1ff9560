"""Email providers' suppression changes, replayed in their documented webhook payloads.

Postmark: a Type=Unsubscribe bounce that names no address, SubscriptionChange (suppress and
reactivate). Brevo: soft bounces are temporary (the address is suppressed only at the limit),
hard bounces are not.
"""

import base64
import json

import pytest

from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status
SECRET = "hooks:s3cret-for-tests"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": [SECRET]}


@pytest.fixture
def email(student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    return Delivery.objects.get(channel="email")


def post(client, esp: str, payload, settings):
    settings.EMAIL_TRACKING_ESP = esp
    auth = "Basic " + base64.b64encode(SECRET.encode()).decode()
    response = client.post(
        f"/anymail/{esp}/tracking/", json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200, response.content
    return response


def suppressions(address: str) -> set[tuple[str, str]]:
    return set(Suppression.objects.filter(address=address).values_list("category", "reason"))


# --- Postmark ---------------------------------------------------------------------------------


def test_postmark_unsubscribe_bounce_without_an_email_field_suppresses_the_messages_address(client, email, settings):
    # Postmark's bounce of Type "Unsubscribe" (TypeCode 16) may come without "Email" (anymail then
    # has no recipient): the message it is about names the address.
    post(
        client,
        "postmark",
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": "Unsubscribe",
            "TypeCode": 16,
            "Name": "Unsubscribe request",
            "MessageStream": "outbound",
            "MessageID": email.provider_message_id,
            "Metadata": {"delivery_id": str(email.pk)},
            "Description": "Unsubscribe or Remove request.",
            "BouncedAt": "2026-11-24T10:02:00Z",
            "Inactive": False,
            "CanActivate": True,
        },
        settings,
    )
    assert suppressions(email.to_address) == {("marketing", "unsubscribed")}


def test_postmark_hard_bounce_subscription_change_suppresses_even_without_a_known_message(client, settings):
    post(
        client,
        "postmark",
        {
            "RecordType": "SubscriptionChange",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ServerID": 123456,
            "MessageStream": "outbound",
            "ChangedAt": "2026-11-24T10:53:34.416071Z",
            "Recipient": "Bounced-Address@Example.com",
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "HardBounce",
            "Tag": "",
            "Metadata": {},
        },
        settings,
    )
    assert suppressions("bounced-address@example.com") == {("", "bounced")}


def test_postmark_reactivation_lifts_the_suppressions_its_events_made_and_keeps_a_persons_own(client, email, settings):
    address = email.to_address
    Suppression.objects.create(channel="email", address=address, category="", reason="bounced", detail="Hard bounce")
    Suppression.objects.create(
        channel="email",
        address=address,
        category="marketing",
        reason="unsubscribed",
        detail="Unsubscribed through postmark.",
    )
    Suppression.objects.create(
        channel="email", address="other@example.com", category="marketing", reason="unsubscribed", detail="one-click"
    )
    reactivated = {
        "RecordType": "SubscriptionChange",
        "MessageID": email.provider_message_id,
        "ServerID": 123456,
        "MessageStream": "outbound",
        "ChangedAt": "2026-11-25T10:53:34.416071Z",
        "Recipient": address,
        "Origin": "Customer",
        "SuppressSending": False,
        "SuppressionReason": None,
        "Tag": "",
        "Metadata": {},
    }
    post(client, "postmark", reactivated, settings)
    assert suppressions(address) == set()
    assert suppressions("other@example.com") == {("marketing", "unsubscribed")}

    # Our own unsubscribe page's record is the person's choice: a reactivation never lifts it.
    Suppression.objects.create(
        channel="email", address=address, category="marketing", reason="unsubscribed", detail="unsubscribe page"
    )
    post(client, "postmark", reactivated, settings)
    assert suppressions(address) == {("marketing", "unsubscribed")}


# --- Brevo ------------------------------------------------------------------------------------


def brevo_event(delivery, event: str, n: int = 0) -> dict:
    """Brevo's transactional webhook payload (developers.brevo.com, "Transactional webhooks")."""
    return {
        "event": event,
        "email": delivery.to_address,
        "id": 123456,
        "date": "2026-11-24 10:00:00",
        "ts": 1795000000 + n,
        "message-id": f"<2026112410.{n}@smtp-relay.mailin.fr>",
        "ts_event": 1795000000 + n,
        "subject": delivery.rendered_subject,
        "X-Mailin-custom": json.dumps({"delivery_id": str(delivery.pk)}),
        "sending_ip": "185.41.28.109",
        "ts_epoch": (1795000000 + n) * 1000,
        "reason": "Mailbox full: over quota",
        "tags": [],
    }


def test_brevo_soft_bounces_suppress_only_at_the_limit(client, email, settings, student):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SOFT_BOUNCE_LIMIT": 3}
    post(client, "brevo", brevo_event(email, "soft_bounce", 1), settings)
    email.refresh_from_db()
    assert suppressions(email.to_address) == set()
    assert email.status != Status.BOUNCED  # a soft bounce is not final

    # Two more soft bounces on later messages to the same address reach the limit.
    for n in (2, 3):
        plan_session_reminder(student, event=f"4{n}@20261125T0430")
        dispatch_due_deliveries(now=NOW)
        later = Delivery.objects.filter(channel="email").latest("id")
        post(
            client,
            "brevo",
            {**brevo_event(later, "soft_bounce", n), "reason": f"Mailbox full: over quota ({n})"},
            settings,
        )
    assert suppressions(email.to_address) == {("", "bounced")}


def test_brevo_hard_bounce_suppresses_at_once(client, email, settings):
    post(client, "brevo", {**brevo_event(email, "hard_bounce"), "reason": "550 5.1.1 no such user"}, settings)
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert suppressions(email.to_address) == {("", "bounced")}
