"""WhatsApp as an Indian course business runs it: approved templates, consent per category, cost in ₹.

Meta's Cloud API is a fake Graph API over real HTTP (tests/fake_graph.py); Twilio's Content API a
fake answering ContentAndApprovals as Twilio documents it.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from automation.health import check_health
from leads.campaigns import start_lead_campaign
from leads.tests.factories import LeadFactory
from notifications.models import Delivery, WhatsAppConsent, WhatsAppTemplate
from notifications.services.consent import record_whatsapp_consent
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.services.inbound import receive_whatsapp_message
from notifications.tests.helpers import plan_session_reminder
from tests.fake_graph import APP_SECRET as SECRET
from tests.fake_graph import signed, status_update, template, webhook
from tests.fakes import FakeProvider, Reply, twilio_ok

pytestmark = pytest.mark.django_db
Status = Delivery.Status

Category = WhatsAppConsent.Category


@pytest.fixture
def graph(graph, settings):
    """Meta's fake with the business account's templates: two approved, one pending in Hindi."""
    settings.META_WHATSAPP_TEMPLATES = {"session_24h": "session_reminder_24h", "lead_day0": "course_offer_day0"}
    graph.templates = [
        template("session_reminder_24h", category="UTILITY"),
        template("session_reminder_24h", language="hi", status="PENDING", category="UTILITY"),
        template(
            "course_offer_day0",
            category="MARKETING",
            components=[{"type": "BODY", "text": "Hi {{1}}, your seat is waiting: {{2}}"}],
        ),
    ]
    return graph


def whatsapp_row(kind="session_24h") -> Delivery:
    return Delivery.objects.get(channel="whatsapp", event__kind=kind)


# --- Templates ----------------------------------------------------------------------------------


def test_templates_sync_from_meta_with_their_status_and_category(graph, admin_client, capsys):
    call_command("whatsapp_templates", "sync")
    output = capsys.readouterr().out
    assert "3 template(s) from meta" in output and "Pending review" in output
    rows = {(t.name, t.language): (t.status, t.category) for t in WhatsAppTemplate.objects.all()}
    assert rows == {
        ("session_reminder_24h", "en"): ("approved", "utility"),
        ("session_reminder_24h", "hi"): ("pending", "utility"),
        ("course_offer_day0", "en"): ("approved", "marketing"),
    }
    page = admin_client.get(reverse("admin:notifications_whatsapptemplate_changelist")).content.decode()
    assert "session_reminder_24h" in page and "Pending review" in page and "Marketing" in page

    graph.templates = graph.templates[:1]  # one was deleted at Meta
    call_command("whatsapp_templates", "sync")
    assert WhatsAppTemplate.objects.count() == 1


def test_a_kind_whose_template_is_not_approved_is_not_sent(graph, student):
    graph.templates[0] = template("session_reminder_24h", status="REJECTED")
    call_command("whatsapp_templates", "sync")
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()
    row = whatsapp_row()
    assert (row.status, row.error_code) == (Status.PENDING, "template_not_approved")
    assert "not approved: rejected" in row.last_error
    assert graph.sent() == []

    graph.templates[0] = template("session_reminder_24h", status="APPROVED")
    call_command("whatsapp_templates", "sync")
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    dispatch_due_deliveries()
    assert whatsapp_row().status == Status.SENT and len(graph.sent()) == 1


def test_templates_sync_from_twilio_content_api(settings):
    contents = {
        "contents": [
            {
                "sid": "HX" + "a" * 32,
                "account_sid": "AC" + "1" * 32,
                "friendly_name": "session_reminder_24h",
                "language": "en",
                "variables": {"1": "name"},
                "types": {"twilio/text": {"body": "Hi {{1}}, your session starts tomorrow."}},
                "approval_requests": {"name": "session_reminder_24h", "category": "UTILITY", "status": "approved"},
                "date_created": "2026-11-01T10:00:00Z",
                "date_updated": "2026-11-01T10:00:00Z",
            }
        ],
        "meta": {
            "page": 0,
            "page_size": 100,
            "first_page_url": "",
            "previous_page_url": None,
            "url": "",
            "next_page_url": None,
            "key": "contents",
        },
    }

    class TwilioContent(FakeProvider):
        def search(self, recorded):
            return Reply(200, contents) if recorded.path.startswith("/v1/ContentAndApprovals") else Reply(404, {})

    with TwilioContent(default=twilio_ok) as server:
        settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.twilio.WhatsAppBackend"
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "secret"
        settings.TWILIO_API_BASE_URL = server.url
        call_command("whatsapp_templates", "sync")
    (row,) = WhatsAppTemplate.objects.all()
    assert (row.provider, row.name, row.friendly_name, row.status, row.category) == (
        "twilio",
        "HX" + "a" * 32,
        "session_reminder_24h",
        "approved",
        "utility",
    )


# --- Consent per category -------------------------------------------------------------------------


def test_marketing_whatsapp_goes_only_to_numbers_with_marketing_consent(graph):
    consenting = LeadFactory(name="Meera Iyer", phone="+919811111111")
    other = LeadFactory(name="Ravi Kumar", phone="+919822222222")
    record_whatsapp_consent(
        address=consenting.phone, category=Category.MARKETING, given=True, source="webinar form, 20 Nov"
    )
    record_whatsapp_consent(address=other.phone, category=Category.UTILITY, given=True, source="CTA form")
    start_lead_campaign(lead_ids=[consenting.pk, other.pk])
    dispatch_due_deliveries()

    (sent,) = graph.sent()
    assert sent["to"] == "919811111111" and sent["template"]["name"] == "course_offer_day0"
    assert sent["template"]["components"][0]["parameters"][0]["text"] == "Meera"
    assert not Delivery.objects.filter(channel="whatsapp", to_address=other.phone).exists()
    row = Delivery.objects.get(channel="whatsapp", to_address=consenting.phone)
    assert (row.whatsapp_category, row.cost) == ("marketing", Decimal("0.8631"))
    assert "/start/?ref=" not in row.rendered_text  # the signed link is minted when sent, never stored


def test_the_gate_refuses_marketing_whatsapp_without_marketing_consent(graph, student):
    # The student said yes to reminders on WhatsApp, not to offers.
    lead = LeadFactory(phone=student.phone)
    record_whatsapp_consent(address=lead.phone, category=Category.MARKETING, given=True, source="form")
    start_lead_campaign(lead_ids=[lead.pk])  # planned while consent was given...
    record_whatsapp_consent(address=lead.phone, category=Category.MARKETING, given=False, source="staff")
    dispatch_due_deliveries()  # ...withdrawn before it went out
    row = Delivery.objects.get(channel="whatsapp")
    assert row.status == Status.SUPPRESSED and "whatsapp_no_marketing_consent" in row.events.last().detail
    assert graph.sent() == []


def test_stop_withdraws_both_categories_and_start_gives_back_reminders_only(student):
    record_whatsapp_consent(address=student.phone, category=Category.MARKETING, given=True, source="form")
    receive_whatsapp_message(provider="meta", provider_message_id="wamid.S", from_address=student.phone, text="STOP")
    consents = {c.category: c for c in WhatsAppConsent.objects.filter(address=student.phone)}
    assert not consents["utility"].given and not consents["marketing"].given
    assert "STOP" in consents["utility"].source

    receive_whatsapp_message(provider="meta", provider_message_id="wamid.T", from_address=student.phone, text="START")
    consents = {c.category: c for c in WhatsAppConsent.objects.filter(address=student.phone)}
    assert consents["utility"].given and not consents["marketing"].given
    student.refresh_from_db()
    assert student.whatsapp_opt_in


def test_the_preferences_page_shows_and_changes_each_category_with_when_and_how(client, student):
    record_whatsapp_consent(address=student.phone, category=Category.UTILITY, given=True, source="CTA form")
    client.force_login(student)
    url = reverse("notifications:preferences")
    page = client.get(url).content.decode()
    assert 'data-testid="whatsapp-consents"' in page and "CTA form" in page and "Never given" in page

    form = {
        "whatsapp_opt_in": "yes",
        "whatsapp_marketing_opt_in": "on",
        "phone": student.phone,
        "timezone": "Asia/Kolkata",
    }
    form |= {
        f"{topic}_{channel}": "on"
        for topic in ("reminders", "payments", "marketing")
        for channel in ("email", "whatsapp")
    }
    assert client.post(url, form).status_code == 302
    marketing = WhatsAppConsent.objects.get(address=student.phone, category=Category.MARKETING)
    assert marketing.given and marketing.source == "preferences page" and marketing.user == student
    assert "preferences page" in client.get(url).content.decode()


# --- Cost -----------------------------------------------------------------------------------------


def test_each_sent_whatsapp_message_records_its_category_and_cost_and_meta_pricing_corrects_it(
    graph, student, client, settings
):
    plan_session_reminder(student, now=timezone.now())
    dispatch_due_deliveries()
    row = whatsapp_row()
    assert (row.whatsapp_category, row.cost) == ("utility", Decimal("0.1150"))

    free = status_update(row.provider_message_id, "sent", recipient=row.to_address, category="service")
    free["pricing"]["billable"] = False
    body, signature = signed(webhook({"statuses": [free]}), SECRET)
    client.post("/webhooks/meta/whatsapp/", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)
    row.refresh_from_db()
    assert (row.whatsapp_category, row.cost) == ("service", Decimal("0"))


def test_the_admin_home_counts_the_weeks_replies(admin_client, student):
    receive_whatsapp_message(provider="meta", provider_message_id="w1", from_address=student.phone, text="Thanks!")
    receive_whatsapp_message(
        provider="meta", provider_message_id="w2", from_address=student.phone, text="Can I pay later?"
    )
    receive_whatsapp_message(provider="meta", provider_message_id="w3", from_address=student.phone, text="STOP")
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'data-testid="whatsapp-replies"' in page
    assert "<strong>2</strong> messages to read" in page and "1 STOP" in page


def test_health_says_when_the_providers_templates_were_never_synced(graph):
    def problems():
        return check_health(now=timezone.now(), max_delivery_lag=dt.timedelta(hours=1)).problems

    assert any("templates were never synced" in problem for problem in problems())
    call_command("whatsapp_templates", "sync")
    assert not any("templates were never synced" in problem for problem in problems())


def test_replies_and_consent_show_on_the_students_and_the_leads_admin_pages(admin_client, student):
    lead = LeadFactory(phone=student.phone)
    record_whatsapp_consent(address=student.phone, category=Category.UTILITY, given=True, source="CTA form")
    receive_whatsapp_message(
        provider="meta", provider_message_id="w9", from_address=student.phone, text="Is there a class on Sunday?"
    )
    for url in (
        reverse("admin:lms_user_change", args=[student.pk]),
        reverse("admin:leads_lead_change", args=[lead.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert 'data-testid="whatsapp-replies-timeline"' in page and "Is there a class on Sunday?" in page
        assert "given" in page and "CTA form" in page


def test_without_a_template_for_a_campaign_kind_the_campaign_goes_by_email_only(graph, settings):
    settings.META_WHATSAPP_TEMPLATES = {"session_24h": "session_reminder_24h"}  # none for the drip
    lead = LeadFactory(phone="+919811111111")
    record_whatsapp_consent(address=lead.phone, category=Category.MARKETING, given=True, source="webinar form")
    start_lead_campaign(lead_ids=[lead.pk])
    assert set(Delivery.objects.values_list("channel", flat=True)) == {"email"}
