"""The Delivery page shows a sent email's HTML part, as sent, with every minted link still hidden."""

import re
from html import unescape

import pytest
from django.urls import reverse

from leads.campaigns import start_lead_campaign
from leads.onboarding import approve_cta_submission
from leads.tests.factories import CTASubmissionFactory, ImportBatchFactory, LeadFactory
from lms.tests.factories import StaffUserFactory
from notifications.models import Delivery
from notifications.rendering import REDACTED
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db
SRCDOC = re.compile(r'<iframe title="HTML part as sent" sandbox srcdoc="([^"]*)"')


@pytest.fixture
def staff(client):
    admin = StaffUserFactory(email="root@school.example", superuser=True)
    client.force_login(admin)
    return admin


def delivery_page(client, delivery) -> str:
    response = client.get(reverse("admin:notifications_delivery_change", args=[delivery.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_welcome_email_shows_as_sent_with_its_set_password_link_hidden(
    client, staff, django_capture_on_commit_callbacks, mailoutbox
):
    submission = CTASubmissionFactory(name="Kabir Singh", email="kabir@example.com", status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        approve_cta_submission(submission=submission, approved_by=staff)
    delivery = Delivery.objects.get(event__kind="welcome", channel="email", status="sent")
    sent = next(message for message in mailoutbox if message.to == ["kabir@example.com"])
    live_link = re.search(r"https://\S+/accounts/set-password/\S+/", sent.body).group(0)

    page = delivery_page(client, delivery)
    srcdoc = unescape(SRCDOC.search(page).group(1))
    assert "Welcome to" in srcdoc and "Hi Kabir," in srcdoc
    assert REDACTED in srcdoc
    assert "/accounts/set-password/" not in srcdoc and live_link not in page
    # The rest is the HTML that went out: the same links to the student's pages.
    assert 'href="https://school.example/profile/"' in srcdoc


def test_a_campaign_email_shows_with_its_unsubscribe_and_form_links_hidden(client, staff, mailoutbox):
    batch = ImportBatchFactory()
    LeadFactory(email="neha@example.com", name="Neha Kapoor", import_batch=batch)
    start_lead_campaign(import_batch=batch)
    dispatch_due_deliveries()
    delivery = Delivery.objects.get(event__kind="lead_day0", status="sent")
    (sent,) = mailoutbox
    minted = set(re.findall(r"https://school\.example/(?:unsubscribe|start)/\S+", sent.body))
    assert minted

    srcdoc = unescape(SRCDOC.search(delivery_page(client, delivery)).group(1))
    assert "Hi Neha," in srcdoc and REDACTED in srcdoc
    assert "/unsubscribe/" not in srcdoc
    assert not any(link.rstrip(".,)") in srcdoc for link in minted)


def test_a_delivery_not_sent_yet_or_on_whatsapp_has_no_html_part(client, staff):
    batch = ImportBatchFactory()
    LeadFactory(email="neha@example.com", import_batch=batch)
    start_lead_campaign(import_batch=batch)
    pending = Delivery.objects.get(event__kind="lead_day0")
    page = delivery_page(client, pending)
    assert "Not sent yet: the HTML is rendered when the message is sent." in page
    assert not SRCDOC.search(page)
