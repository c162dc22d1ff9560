"""WhatsApp as Meta and Twilio document it, round 2 (issue 26): each case posts the provider's
documented payload, signed, to the real webhook view, or answers through the fake Graph API /
Twilio over real HTTP, and checks the ledger, suppressions, consent and pauses."""

import datetime as dt
import time
from decimal import Decimal
from io import StringIO

import icalendar
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from common.calendar import CalendarEvent, event_ics
from leads.campaigns import start_lead_campaign
from leads.tests.factories import LeadFactory
from notifications.checks import check_whatsapp_template_fit
from notifications.models import (
    ChannelPause,
    Delivery,
    InboundMessage,
    Suppression,
    WhatsAppConsent,
    WhatsAppTemplate,
)
from notifications.services.consent import record_whatsapp_consent
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.tests.helpers import NOW, plan_session_reminder
from tests.fake_graph import APP_SECRET as SECRET
from tests.fake_graph import graph_error, inbound_text, signed, status_update, template, webhook

pytestmark = pytest.mark.django_db
Status = Delivery.Status
WEBHOOK = "/webhooks/meta/whatsapp/"


TWILIO_INBOUND = "https://school.example/webhooks/twilio/inbound/"
TWILIO_STATUS = "https://school.example/webhooks/twilio/status/"


def post_webhook(client, payload):
    body, signature = signed(payload, SECRET)
    return client.post(WEBHOOK, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


def sent_row(student, graph, *, event="42@20261125T0430") -> Delivery:
    plan_session_reminder(student, event=event)
    dispatch_due_deliveries(now=NOW)
    return Delivery.objects.get(channel="whatsapp", event__kind="session_24h", event__key=f"session_24h:{event}")


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


def post_twilio(client, url: str, params: dict):
    """A form Twilio posts, signed with the account's auth token (conftest's fake: "secret")."""
    signature = RequestValidator("secret").compute_signature(url, params)
    return client.post(url.removeprefix("https://school.example"), params, HTTP_X_TWILIO_SIGNATURE=signature)


def twilio_inbound(sender: str, body: str, *, sid: str, **extra) -> dict:
    """Twilio's "a message comes in" form for a WhatsApp message (documented fields)."""
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": f"whatsapp:{sender}",
        "To": "whatsapp:+14155238886",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": "Asha",
        "WaId": sender.removeprefix("+"),
        "MessageType": "text",
        **extra,
    }


def whatsapp_stopped(address: str) -> bool:
    return Suppression.objects.filter(channel="whatsapp", address=address, category="", reason="opted_out").exists()


# --- 2. Twilio's documented opt-out and opt-in keywords ----------------------------------------


@pytest.mark.parametrize("word", ["REVOKE", "OPTOUT", "Opt-out!", "stop all", "Stopall.", "रोकें।", "¡STOP!", "STOP 🛑"])
def test_every_opt_out_keyword_twilio_documents_stops_whatsapp(client, twilio, student, word):
    assert post_twilio(client, TWILIO_INBOUND, twilio_inbound(student.phone, word, sid="SM1")).status_code == 200
    assert InboundMessage.objects.get().keyword == "stop"
    assert whatsapp_stopped(student.phone)
    student.refresh_from_db()
    assert student.whatsapp_opt_in is False


@pytest.mark.parametrize("word", ["YES", "yes.", "UNSTOP", "Start!", "शुरू"])
def test_an_opt_in_keyword_after_stop_resumes_whatsapp(client, twilio, student, word):
    post_twilio(client, TWILIO_INBOUND, twilio_inbound(student.phone, "STOP", sid="SM1"))
    assert whatsapp_stopped(student.phone)
    post_twilio(client, TWILIO_INBOUND, twilio_inbound(student.phone, word, sid="SM2"))
    assert not whatsapp_stopped(student.phone)
    student.refresh_from_db()
    assert student.whatsapp_opt_in is True
    assert InboundMessage.objects.get(provider_message_id="SM2").keyword == "start"


def test_yes_from_a_number_that_never_stopped_is_an_ordinary_reply(client, twilio, student):
    post_twilio(client, TWILIO_INBOUND, twilio_inbound(student.phone, "Yes", sid="SM1"))
    assert InboundMessage.objects.get().keyword == ""
    assert not Delivery.objects.filter(event__kind="whatsapp_started").exists()  # no "resumed" out of the blue


# --- 3. Marketing opt-outs: the "Stop promotions" button and WhatsApp's own setting ---------------


@pytest.fixture
def offers(graph, settings):
    """Meta with an approved marketing template for the lead campaign's Day 0."""
    settings.META_WHATSAPP_TEMPLATES = {"session_24h": "session_reminder_24h", "lead_day0": "course_offer_day0"}
    return graph


def marketing_stopped(address: str) -> bool:
    return Suppression.objects.filter(channel="whatsapp", address=address, category="marketing").exists()


def marketing_consent(address: str) -> bool:
    return WhatsAppConsent.objects.get(address=address, category="marketing").given


def meta_button(sender: str, *, text: str, payload: str, message_id: str = "wamid.BTN1") -> dict:
    """A `messages` entry: the person tapped a template's quick-reply button."""
    return {
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": sender.removeprefix("+")}],
        "messages": [
            {
                "context": {"from": "15550783881", "id": "wamid.TEMPLATE1"},
                "from": sender.removeprefix("+"),
                "id": message_id,
                "timestamp": str(int(time.time())),
                "type": "button",
                "button": {"payload": payload, "text": text},
            }
        ],
    }


def user_preference(sender: str, value: str) -> dict:
    """Meta's `user_preferences` webhook value: the person stopped or resumed marketing messages."""
    return {
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": sender.removeprefix("+")}],
        "user_preferences": [
            {
                "wa_id": sender.removeprefix("+"),
                "detail": "User requested to stop marketing messages",
                "category": "marketing_messages",
                "value": value,
                "timestamp": int(time.time()),
            }
        ],
    }


def test_the_stop_promotions_button_on_meta_stops_offers_only_and_is_confirmed(client, offers, student):
    record_whatsapp_consent(address=student.phone, category="marketing", given=True, source="webinar form")
    button = meta_button(student.phone, text="Stop promotions", payload="Stop promotions")
    assert post_webhook(client, webhook(button)).status_code == 200

    assert InboundMessage.objects.get().keyword == "mstop"
    assert marketing_stopped(student.phone) and not marketing_consent(student.phone)
    assert not whatsapp_stopped(student.phone)
    dispatch_due_deliveries()
    (confirmation,) = offers.sent()
    assert confirmation["type"] == "text" and "offers" in confirmation["text"]["body"]

    # The next offer does not go on WhatsApp; the next reminder does.
    start_lead_campaign(lead_ids=[LeadFactory(phone=student.phone).pk])
    plan_session_reminder(student, event="43@20261126T0430")
    dispatch_due_deliveries(now=timezone.now())
    whatsapp = dict(Delivery.objects.filter(channel="whatsapp").values_list("event__kind", "status"))
    assert whatsapp.get("lead_day0") in (None, Status.SUPPRESSED) and whatsapp["session_24h"] == Status.SENT
    assert [sent["template"]["name"] for sent in offers.sent()[1:]] == ["session_reminder_24h"]


def test_the_stop_promotions_button_through_twilio_is_read_by_its_payload(client, twilio, student):
    record_whatsapp_consent(address=student.phone, category="marketing", given=True, source="webinar form")
    form = twilio_inbound(
        student.phone, "Stop promotions", sid="SM9", MessageType="button", ButtonText="Stop promotions"
    )
    form["ButtonPayload"] = "STOP_PROMOTIONS"
    post_twilio(client, TWILIO_INBOUND, form)
    assert marketing_stopped(student.phone) and not marketing_consent(student.phone)
    assert Delivery.objects.get(event__kind="whatsapp_marketing_stopped").channel == "whatsapp"


def test_whatsapps_own_marketing_setting_suppresses_and_lifts_offers(client, offers, student):
    record_whatsapp_consent(address=student.phone, category="marketing", given=True, source="webinar form")
    assert post_webhook(client, webhook(user_preference(student.phone, "stop"))).status_code == 200
    assert marketing_stopped(student.phone) and not marketing_consent(student.phone)
    # No message of theirs opened a window: no confirmation can go.
    assert not Delivery.objects.filter(event__kind__startswith="whatsapp_marketing").exists()

    post_webhook(client, webhook(inbound_text(student.phone, "Hello", message_id="wamid.HELLO")))
    post_webhook(client, webhook(user_preference(student.phone, "resume")))
    assert not marketing_stopped(student.phone) and marketing_consent(student.phone)
    # Inside the window their "Hello" opened, the change is confirmed.
    assert Delivery.objects.get(event__kind="whatsapp_marketing_started").channel == "whatsapp"


# --- 4. Account errors by webhook pause the channel; nothing fails -----------------------------


@pytest.mark.parametrize(
    ("code", "title"), [(131042, "Business eligibility payment issue"), (131057, "Account in maintenance mode")]
)
def test_an_account_error_in_a_failed_status_requeues_the_message_and_pauses_whatsapp(
    client, graph, student, code, title
):
    row = sent_row(student, graph)
    attempts = row.attempts
    failed = status_update(
        row.provider_message_id,
        "failed",
        recipient=row.to_address,
        delivery_id=row.pk,
        errors=[{"code": code, "title": title, "message": title, "error_data": {"details": title}}],
    )
    assert post_webhook(client, webhook({"statuses": [failed]})).status_code == 200
    row.refresh_from_db()
    assert row.status == Status.PENDING and row.attempts == attempts - 1 and row.error_code == str(code)
    pause = ChannelPause.objects.get(channel="whatsapp")
    assert pause.error_code == str(code) and row.next_attempt_at == pause.until
    assert not Suppression.objects.exists()

    # Nothing more goes to Meta until the pause ends; then it goes again, and the pause lifts.
    dispatch_due_deliveries()
    assert len(graph.sent()) == 1
    dispatch_due_deliveries(now=pause.until + dt.timedelta(seconds=1))
    row.refresh_from_db()
    assert len(graph.sent()) == 2 and row.status == Status.SENT
    assert not ChannelPause.objects.exists()


def test_an_account_error_in_a_twilio_status_callback_pauses_whatsapp(client, twilio, student):
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    row = Delivery.objects.get(channel="whatsapp")
    form = {
        "MessageSid": row.provider_message_id,
        "MessageStatus": "failed",
        "ErrorCode": "63040",  # the sender is not approved by Meta
        "To": f"whatsapp:{row.to_address}",
        "From": "whatsapp:+14155238886",
        "AccountSid": "AC" + "1" * 32,
    }
    assert post_twilio(client, TWILIO_STATUS, form).status_code == 200
    row.refresh_from_db()
    assert row.status == Status.PENDING and ChannelPause.objects.filter(channel="whatsapp").exists()


# --- 6. Per-message pricing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pricing", "cost"),
    [
        ({"billable": False, "category": "utility", "type": "free_customer_service"}, Decimal("0")),
        ({"billable": True, "category": "marketing_lite", "type": "regular"}, Decimal("0.8631")),
        ({"billable": False, "category": "referral_conversion", "type": "free_entry_point"}, Decimal("0")),
        ({"billable": True, "category": "utility", "type": "free_customer_service"}, Decimal("0")),
        ({"billable": True, "category": "authentication_international", "type": "regular"}, Decimal("2.30")),
    ],
    ids=["free-service-window", "marketing-lite", "free-entry-point", "free-type-wins", "auth-international"],
)
def test_the_cost_follows_metas_per_message_pricing(client, graph, student, pricing, cost):
    row = sent_row(student, graph)
    status = status_update(row.provider_message_id, "delivered", recipient=row.to_address)
    status["pricing"] = {"pricing_model": "PMP", **pricing}
    post_webhook(client, webhook({"statuses": [status]}))
    row.refresh_from_db()
    assert (row.whatsapp_category, row.cost) == (pricing["category"], cost)


# --- 7. 131026 counts like a soft bounce --------------------------------------------------------


def test_undeliverable_131026_suppresses_the_number_only_at_the_soft_bounce_limit(client, graph, student, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "SOFT_BOUNCE_LIMIT": 3}
    for n in range(3):
        assert not Suppression.objects.exists()
        row = sent_row(student, graph, event=f"4{n}@20261125T0430")
        failed = status_update(
            row.provider_message_id,
            "failed",
            recipient=row.to_address,
            errors=[{"code": 131026, "title": "Message undeliverable"}],
        )
        post_webhook(client, webhook({"statuses": [failed]}))
        post_webhook(client, webhook({"statuses": [failed]}))  # Meta delivers it again: counted once
        row.refresh_from_db()
        assert row.status == Status.FAILED
    suppression = Suppression.objects.get(channel="whatsapp", address=student.phone)
    assert (suppression.category, suppression.reason) == ("", "invalid") and "3 times" in suppression.detail


# --- 8. The session invitation names its organizer ------------------------------------------------


def test_the_session_invitation_names_an_organizer_as_rfc_5546_requires_for_publish(settings):
    settings.DEFAULT_FROM_EMAIL = "CourseHub Classes <classes@school.example>"
    start = dt.datetime(2026, 11, 25, 4, 30, tzinfo=dt.UTC)
    calendar = icalendar.Calendar.from_ical(event_ics(CalendarEvent(uid="s-1@x", start=start, minutes=60, summary="S")))
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "PUBLISH"
    assert str(event["ORGANIZER"]) == "mailto:classes@school.example"
    assert event["ORGANIZER"].params["CN"] == "CourseHub Classes"


# --- 5. Every component's variables are filled; a kind that does not fit is refused at sync ------

HEADER = {"type": "HEADER", "format": "TEXT", "text": "Class reminder for {{1}}"}
BODY_2 = {"type": "BODY", "text": "Your session {{1}} starts {{2}}."}
FOOTER = {"type": "FOOTER", "text": "CourseHub"}
JOIN_BUTTON = {
    "type": "BUTTONS",
    "buttons": [
        {"type": "URL", "text": "Join", "url": "https://meet.example.com/{{1}}"},
        {"type": "QUICK_REPLY", "text": "Stop reminders"},
    ],
}


def test_a_template_with_header_and_button_variables_is_filled_component_by_component(graph, student):
    graph.strict = True
    graph.templates = [template("session_reminder_24h", components=[HEADER, BODY_2, FOOTER, JOIN_BUTTON])]
    call_command("whatsapp_templates", "sync")
    row = sent_row(student, graph)
    assert row.status == Status.SENT
    (sent,) = graph.sent()
    assert sent["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "Asha"}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Python Basics"},
                {"type": "text", "text": "Wed, 25 Nov 2026, 10:00 am IST"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "https://meet.example.com/python"}],
        },
    ]


def test_a_kind_whose_variables_do_not_fit_the_approved_template_is_refused_at_sync_and_held(graph, student):
    graph.strict = True
    body_4 = {"type": "BODY", "text": "Hi {{1}}, your session {{2}} starts {{3}}: {{4}}"}
    graph.templates = [template("session_reminder_24h", components=[HEADER, body_4])]
    with pytest.raises(CommandError, match="do not fit"):
        call_command("whatsapp_templates", "sync", stderr=StringIO())
    (warning,) = [m for m in check_whatsapp_template_fit() if m.id == "notifications.W015"]
    assert "session_24h" in warning.msg and "takes 5 variable(s) (header 1, body 4)" in warning.msg

    row = sent_row(student, graph)
    assert (row.status, row.error_code) == (Status.PENDING, "template_mismatch")  # held, never a 132000
    assert graph.sent() == []


# --- 24.5. A language with no approved template: the kind's approved default ---------------------


def hindi(student):
    student.language = "hi"
    student.save(update_fields=["language"])
    return student


@pytest.mark.parametrize("hindi_status", [None, "PENDING", "REJECTED"])
def test_a_hindi_reader_gets_the_approved_english_template_while_hindi_is_not_approved(graph, student, hindi_status):
    graph.strict = True
    graph.templates = [template("session_reminder_24h")]
    if hindi_status:
        graph.templates.append(template("session_reminder_24h", language="hi", status=hindi_status))
    call_command("whatsapp_templates", "sync")
    row = sent_row(hindi(student), graph)

    assert row.status == Status.SENT  # never failed for a missing or pending translation (was 132001)
    (sent,) = graph.sent()
    assert sent["template"]["language"] == {"code": "en"}
    assert sent["template"]["components"][0]["parameters"][0] == {"type": "text", "text": "Asha"}
    assert "Python Basics" in row.rendered_text and "सत्र" not in row.rendered_text  # what went out: English
    assert row.events.filter(detail__contains="not approved in hi").exists()


def test_a_hindi_reader_gets_hindi_once_it_is_approved(graph, student):
    graph.strict = True
    graph.templates = [template("session_reminder_24h"), template("session_reminder_24h", language="hi")]
    call_command("whatsapp_templates", "sync")
    row = sent_row(hindi(student), graph)
    assert graph.sent()[0]["template"]["language"] == {"code": "hi"}
    assert "सत्र" in row.rendered_text


def test_an_english_reader_gets_the_en_us_template_when_that_is_the_one_approved(graph, student, settings):
    settings.META_WHATSAPP_DEFAULT_LANGUAGE = "en"
    graph.strict = True
    graph.templates = [template("session_reminder_24h", language="en_US")]
    call_command("whatsapp_templates", "sync")
    row = sent_row(student, graph)
    assert row.status == Status.SENT and graph.sent()[0]["template"]["language"] == {"code": "en_US"}


def test_check_warns_which_kinds_lack_an_approved_template_in_a_language_students_use(graph, student):
    graph.templates = [template("session_reminder_24h")]
    call_command("whatsapp_templates", "sync")
    assert not [m for m in check_whatsapp_template_fit() if m.id == "notifications.W016"]
    hindi(student)
    (warning,) = [m for m in check_whatsapp_template_fit() if m.id == "notifications.W016"]
    assert warning.obj == "session_24h" and "'hi'" in warning.msg and "1 reader(s)" in warning.msg


def test_the_admin_shows_the_parameters_each_synced_template_takes(graph, admin_client):
    graph.templates = [template("session_reminder_24h", components=[HEADER, BODY_2, FOOTER, JOIN_BUTTON])]
    call_command("whatsapp_templates", "sync")
    synced = WhatsAppTemplate.objects.get()
    page = admin_client.get(reverse("admin:notifications_whatsapptemplate_change", args=[synced.pk])).content.decode()
    assert "header 1, body 2, button 1 (url) 1" in page


def test_a_keyword_twilio_matched_for_us_counts_whatever_its_words(client, twilio, student):
    # Advanced Opt-Out on the Messaging Service, with "बस" added as an opt-out word in the console.
    post_twilio(client, TWILIO_INBOUND, twilio_inbound(student.phone, "बस", sid="SM1", OptOutType="STOP"))
    assert whatsapp_stopped(student.phone)


def test_twilio_sends_the_hindi_content_template_only_once_it_is_approved(twilio, student, settings):
    english, hindi_sid = "HX" + "a" * 32, "HX" + "b" * 32
    settings.TWILIO_CONTENT_SIDS = {"session_24h": english, "session_24h:hi": hindi_sid}
    WhatsAppTemplate.objects.create(provider="twilio", name=english, language="en", status="approved")
    pending = WhatsAppTemplate.objects.create(provider="twilio", name=hindi_sid, language="hi", status="pending")
    plan_session_reminder(hindi(student))
    dispatch_due_deliveries(now=NOW)
    row = Delivery.objects.get(channel="whatsapp")
    assert row.status == Status.SENT and twilio.requests[-1].form()["ContentSid"] == english
    assert "सत्र" not in row.rendered_text and row.events.filter(detail__contains="not approved in hi").exists()

    pending.status = "approved"
    pending.save()
    cache.clear()  # a sync forgets the approvals read before; this test changed the row itself
    plan_session_reminder(student, event="43@20261126T0430")
    dispatch_due_deliveries(now=NOW)
    assert twilio.requests[-1].form()["ContentSid"] == hindi_sid


def test_metas_template_review_webhook_updates_the_synced_template_at_once(client, graph, student):
    graph.templates = [
        template("session_reminder_24h"),
        template("session_reminder_24h", language="hi", status="PENDING"),
    ]
    call_command("whatsapp_templates", "sync")
    review = {
        "event": "APPROVED",
        "message_template_id": 594425479261596,
        "message_template_name": "session_reminder_24h",
        "message_template_language": "hi",
        "reason": "NONE",
    }
    document = webhook(review)
    document["entry"][0]["changes"][0]["field"] = "message_template_status_update"
    assert post_webhook(client, document).status_code == 200
    assert WhatsAppTemplate.objects.get(language="hi").status == "approved"
    sent_row(hindi(student), graph)
    assert graph.sent()[0]["template"]["language"] == {"code": "hi"}


def test_maintenance_mode_in_the_answer_to_a_send_is_temporary_and_pauses_whatsapp(graph, student):
    graph.queue(graph_error(131057, "Business Account is in maintenance mode", status=400))
    row = sent_row(student, graph)
    assert row.status == Status.PENDING and row.error_code == "131057"
    assert ChannelPause.objects.get(channel="whatsapp").error_code == "131057"
