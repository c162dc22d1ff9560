"""A provider's word counts the same whichever way it arrives: in the answer to a send, or by a
signed webhook to the real view, before or after the worker records that answer (fake Graph API
and fake Twilio over real HTTP, the real ledger and dispatch)."""


import pytest

from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.tests.helpers import NOW, plan_session_reminder
from tests.fake_graph import APP_SECRET, graph_error, signed, status_update, webhook

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
