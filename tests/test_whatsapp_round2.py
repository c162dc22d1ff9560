"""WhatsApp as Meta and Twilio document it, round 2 (issue 26): each case posts the provider's
documented payload, signed, to the real webhook view, or answers through the fake Graph API /
Twilio over real HTTP, and checks the ledger, suppressions, consent and pauses."""

import pytest

from notifications.models import Delivery
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.tests.helpers import NOW, plan_session_reminder
from tests.fake_graph import APP_SECRET as SECRET
from tests.fake_graph import signed, status_update, webhook

pytestmark = pytest.mark.django_db
Status = Delivery.Status
WEBHOOK = "/webhooks/meta/whatsapp/"


def post_webhook(client, payload):
    body, signature = signed(payload, SECRET)
    return client.post(WEBHOOK, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


def sent_row(student, graph, *, event="42@20261125T0430") -> Delivery:
    plan_session_reminder(student, event=event)
    dispatch_due_deliveries(now=NOW)
    return Delivery.objects.get(channel="whatsapp", kind="session_24h", event__key=f"session_24h:{event}")


def test_a_long_pricing_category_is_recorded_and_the_read_batched_after_it_applies(client, graph, student):
    row = sent_row(student, graph)
    category = "authentication_international"  # 28 characters
    delivered = status_update(row.provider_message_id, "delivered", recipient=row.to_address, category=category)
    read = status_update(row.provider_message_id, "read", recipient=row.to_address, category=category)
    assert post_webhook(client, webhook({"statuses": [delivered, read]})).status_code == 200
    row.refresh_from_db()
    assert row.status == Status.OPENED
    assert row.whatsapp_category == "authentication_international"


def test_a_signed_payload_of_an_unexpected_shape_answers_200_and_applies_what_it_can(client, graph, student, caplog):
    row = sent_row(student, graph)
    odd = [
        "not an object",
        {"id": "wamid.ODD", "status": "failed", "errors": "not a list", "timestamp": "soon", "recipient_id": 91},
        {"id": "wamid.BIG", "status": "delivered", "biz_opaque_callback_data": "delivery:" + "9" * 30},
        {"status": "delivered", "id": row.provider_message_id, "recipient_id": 919876543210, "timestamp": 1795000000},
    ]
    assert post_webhook(client, webhook({"statuses": odd})).status_code == 200
    row.refresh_from_db()
    assert row.status == Status.DELIVERED  # the one that made sense, after three that did not
    assert "could not apply a status" in caplog.text

    for document in ({"object": "whatsapp_business_account", "entry": {}}, [], {"entry": [{"changes": "x"}]}):
        assert post_webhook(client, document).status_code == 200
