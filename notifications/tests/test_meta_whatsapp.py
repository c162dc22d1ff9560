"""WhatsApp through Meta's Cloud API: sends over real HTTP to a fake Graph API, signed webhooks, STOP and START."""

import hmac

import pytest
from django.urls import reverse

from notifications.models import Delivery, InboundMessage, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from tests.fake_graph import APP_SECRET as SECRET
from tests.fake_graph import (
    PHONE_NUMBER_ID,
    VERSION,
    graph_error,
    inbound_text,
    signed,
    status_update,
    webhook,
)
from tests.fakes import Reply

from .helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
Status = Delivery.Status

WEBHOOK = "/webhooks/meta/whatsapp/"


def whatsapp_row() -> Delivery:
    return Delivery.objects.get(channel="whatsapp", event__kind="session_24h")


def post_webhook(client, payload, *, secret=SECRET):
    body, signature = signed(payload, secret)
    return client.post(WEBHOOK, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


# --- Sending ----------------------------------------------------------------------------------


def test_a_reminder_goes_out_as_the_approved_template_with_its_variables_and_our_delivery_id(graph, student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)

    (request,) = [r for r in graph.requests if r.path.endswith("/messages")]
    assert request.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-test-token"
    row = whatsapp_row()
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "template",
        "template": {
            "name": "session_reminder_24h",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Asha"},
                        {"type": "text", "text": "Python Basics"},
                        {"type": "text", "text": "Wed, 25 Nov 2026, 10:00 am IST"},
                        {"type": "text", "text": "https://meet.example.com/python"},
                    ],
                }
            ],
        },
        "biz_opaque_callback_data": f"delivery:{row.pk}",
    }
    assert row.status == Status.SENT and row.provider_message_id.startswith("wamid.")


def test_a_kind_without_a_template_is_refused_without_calling_meta(graph, student, settings):
    settings.META_WHATSAPP_TEMPLATES = {}
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row()
    assert (row.status, row.error_code) == (Status.FAILED, "no_template")
    assert graph.sent() == []


@pytest.mark.parametrize(
    ("reply", "status", "suppressed"),
    [
        (
            graph_error(131026, "Message undeliverable", details="Receiver is incapable of receiving this message"),
            Status.FAILED,
            set(),  # counted like a soft bounce: suppressed at the limit (test_whatsapp_round2)
        ),
        (graph_error(132001, "Template name does not exist in the translation"), Status.FAILED, set()),
        (graph_error(130429, "Rate limit hit", status=429), Status.PENDING, set()),
        (graph_error(131000, "Something went wrong", status=500), Status.PENDING, set()),
    ],
    ids=["not-on-whatsapp", "no-such-template", "throughput-limit", "meta-error"],
)
def test_meta_errors_are_classified_by_their_code(graph, student, reply, status, suppressed):
    graph.queue(reply)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row()
    assert row.status == status
    assert set(Suppression.objects.filter(channel="whatsapp").values_list("category", "reason")) == suppressed


# --- Webhooks ---------------------------------------------------------------------------------


def test_the_subscription_handshake_answers_the_challenge_only_with_the_verify_token(client, graph):
    ok = client.get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = client.get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status_code == 403


def test_a_signed_status_moves_the_delivery_forward_and_a_forged_one_is_refused(client, graph, student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row()
    delivered = webhook({"statuses": [status_update(row.provider_message_id, "delivered", recipient=row.to_address)]})

    assert post_webhook(client, delivered, secret="not-the-secret").status_code == 403
    assert client.post(WEBHOOK, delivered, content_type="application/json").status_code == 403  # unsigned
    row.refresh_from_db()
    assert row.status == Status.SENT

    assert post_webhook(client, delivered).status_code == 200
    row.refresh_from_db()
    assert row.status == Status.DELIVERED and row.delivered_at is not None

    read = webhook({"statuses": [status_update(row.provider_message_id, "read", recipient=row.to_address)]})
    post_webhook(client, read)
    row.refresh_from_db()
    assert row.status == Status.OPENED


def test_with_no_app_secret_every_post_is_refused(client, graph, settings):
    settings.META_WHATSAPP_APP_SECRET = ""
    payload = webhook({"statuses": [status_update("wamid.X", "delivered", recipient="+919876543210")]})
    assert post_webhook(client, payload, secret="").status_code == 403


def test_a_status_finds_its_row_by_our_delivery_id_when_the_answer_to_the_send_was_lost(client, graph, student):
    graph.queue(Reply(drop=True))  # Meta accepts it, and its answer never arrives
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row()
    assert row.status == Status.UNKNOWN and not row.provider_message_id

    sent = webhook({"statuses": [status_update("wamid.LOST1", "sent", recipient=row.to_address, delivery_id=row.pk)]})
    assert post_webhook(client, sent).status_code == 200
    row.refresh_from_db()
    assert row.status == Status.SENT and row.provider_message_id == "wamid.LOST1"


def test_a_failed_status_for_a_number_not_on_whatsapp_fails_the_message_and_is_counted(client, graph, student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = whatsapp_row()
    failed = status_update(
        row.provider_message_id,
        "failed",
        recipient=row.to_address,
        errors=[{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}],
    )
    post_webhook(client, webhook({"statuses": [failed]}))
    row.refresh_from_db()
    assert row.status == Status.FAILED and row.error_code == "131026"
    # Meta lists temporary causes: suppressed only at the soft-bounce limit (tests/test_whatsapp_round2.py).
    assert not Suppression.objects.filter(channel="whatsapp", address=row.to_address).exists()


def test_a_malformed_signed_body_answers_400(client, graph):
    body, signature = b"not json", "sha256=" + hmac.new(SECRET.encode(), b"not json", "sha256").hexdigest()
    response = client.post(WEBHOOK, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 400


# --- Replies: STOP and START ------------------------------------------------------------------


def test_stop_stops_whatsapp_to_that_number_and_is_confirmed_and_start_resumes_it(client, graph, student):
    stop = webhook(inbound_text(student.phone, "STOP", message_id="wamid.IN-STOP"))
    assert post_webhook(client, stop).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.keyword, inbound.user, inbound.body) == ("stop", student, "STOP")
    student.refresh_from_db()
    assert student.whatsapp_opt_in is False
    assert Suppression.objects.filter(channel="whatsapp", address=student.phone, reason="opted_out").exists()

    dispatch_due_deliveries()
    (confirmation,) = graph.sent()
    assert confirmation["type"] == "text" and confirmation["to"] == "919876543210"
    assert "Reply START" in confirmation["text"]["body"]

    # The next reminder does not go to WhatsApp.
    plan_session_reminder(student, event="43@20261126T0430")
    dispatch_due_deliveries(now=NOW)
    assert len(graph.sent()) == 1
    assert not Delivery.objects.filter(event__kind="session_24h", channel="whatsapp").exclude(status=Status.SUPPRESSED)

    # Meta delivers the same webhook again: acted on once.
    post_webhook(client, stop)
    assert InboundMessage.objects.count() == 1

    post_webhook(client, webhook(inbound_text(student.phone, "start", message_id="wamid.IN-START")))
    student.refresh_from_db()
    assert student.whatsapp_opt_in is True
    assert not Suppression.objects.filter(channel="whatsapp", address=student.phone).exists()
    dispatch_due_deliveries()
    assert "Reply STOP" in graph.sent()[-1]["text"]["body"]


@pytest.mark.parametrize("text", ["रोकें", "Stop.", " unsubscribe "])
def test_stop_in_other_words_and_languages(client, graph, student, text):
    post_webhook(client, webhook(inbound_text(student.phone, text)))
    assert InboundMessage.objects.get().keyword == "stop"
    assert Suppression.objects.filter(channel="whatsapp", address=student.phone).exists()


def test_an_ordinary_reply_is_kept_and_changes_nothing(client, graph, student):
    post_webhook(client, webhook(inbound_text(student.phone, "Please don't stop the classes, they are great!")))
    inbound = InboundMessage.objects.get()
    assert inbound.keyword == "" and inbound.user == student
    assert not Suppression.objects.exists()
    student.refresh_from_db()
    assert student.whatsapp_opt_in is True


def test_the_webhook_is_mounted_where_the_readme_says(client):
    assert reverse("notifications:meta_whatsapp") == WEBHOOK


def test_a_hindi_speaker_gets_the_template_in_hindi(graph, student):
    student.language = "hi"
    student.save(update_fields=["language"])
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    (sent,) = graph.sent()
    assert sent["template"]["language"] == {"code": "hi"}
