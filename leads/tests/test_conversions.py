"""Only proof counts a conversion: the signed reference in the lead's drip link, or staff approving the submission."""

import datetime as dt
import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse

from leads.campaigns import plan_lead_follow_ups
from leads.importing import import_leads
from leads.links import read_lead_ref
from leads.models import CTASubmission, Lead, LeadCampaign
from lms.tests.factories import StaffUserFactory
from notifications.models import Delivery
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 2, 5, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
START = "https://school.example/start/"


@pytest.fixture
def campaign():
    result = import_leads(
        data=b"name,email\nAsha Verma,asha@example.com\nRavi Kumar,ravi@example.com\n", filename="w.csv", now=T0
    )
    return result.batch.campaign


def conversions(campaign) -> int:
    return LeadCampaign.objects.get(pk=campaign.pk).conversions


def cta_link(message) -> str:
    """The CTA link in an email's text part (the one the lead follows)."""
    return re.search(rf"{re.escape(START)}\?ref=\S+", message.body).group(0)


def follow_link_and_submit(client, link: str, **fields):
    """Open the link from the email, then send the form it shows, as a browser would."""
    page = client.get(link.removeprefix("https://school.example")).content.decode()
    ref = unescape(re.search(r'name="ref" value="([^"]+)"', page).group(1))
    return client.post("/start/", {"name": "Someone", "ref": ref, **fields})


def test_typing_a_leads_email_on_the_form_counts_no_conversion(client, campaign):
    dispatch_due_deliveries(now=T0)
    asha_link = cta_link(next(m for m in mail.outbox if m.to == ["asha@example.com"]))
    follow_link_and_submit(client, asha_link, email="asha@example.com")
    assert conversions(campaign) == 1

    # A stranger types Ravi's address: before, conversions went 1 -> 2 and his follow-ups stopped.
    assert client.post("/start/", {"name": "Ravi", "email": "ravi@example.com"}).status_code == 302
    assert conversions(campaign) == 1
    ravi = Lead.objects.get(email="ravi@example.com")
    assert ravi.status != "converted" and ravi.converted_at is None
    assert CTASubmission.objects.get(email="ravi@example.com").lead is None
    plan_lead_follow_ups(now=T0 + 3 * DAY)
    assert Delivery.objects.filter(to_address="ravi@example.com", event__kind="lead_day3").exists()


def test_the_signed_link_in_each_drip_email_counts_its_leads_conversion_and_is_not_kept_in_the_ledger(client, campaign):
    ravi = Lead.objects.get(email="ravi@example.com")
    for day in (0, 3, 7):
        plan_lead_follow_ups(now=T0 + day * DAY)
        dispatch_due_deliveries(now=T0 + day * DAY)
    emails = [m for m in mail.outbox if m.to == ["ravi@example.com"]]
    assert len(emails) == 3  # Day 0, 3 and 7
    for message in emails:
        link = cta_link(message)
        html_links = re.findall(rf'href="({re.escape(START)}\?ref=[^"]+)"', message.alternatives[0].content)
        assert read_lead_ref(link.split("ref=", 1)[1]) == ravi.pk, message.subject
        assert [read_lead_ref(unescape(href).split("ref=", 1)[1]) for href in html_links] == [ravi.pk]
    for row in Delivery.objects.filter(to_address="ravi@example.com"):
        assert "ref=" not in row.rendered_text and "ref" not in str(row.context), row.kind  # minted when sent

    follow_link_and_submit(client, cta_link(emails[-1]), email="someone-else@example.com")
    ravi.refresh_from_db()
    assert ravi.status == "converted" and conversions(campaign) == 1


def test_staff_approving_the_submission_in_the_admin_counts_the_conversion(client, campaign):
    client.post("/start/", {"name": "Ravi Kumar", "email": "ravi@example.com"})
    assert conversions(campaign) == 0
    staff = StaffUserFactory(superuser=True)
    client.force_login(staff)
    submission = CTASubmission.objects.get(email="ravi@example.com")
    response = client.post(
        reverse("admin:leads_ctasubmission_changelist"),
        {"action": "approve_selected", "_selected_action": [submission.pk]},
        follow=True,
    )
    assert "Ravi Kumar: approved." in response.content.decode()
    ravi = Lead.objects.get(email="ravi@example.com")
    assert ravi.status == "converted" and ravi.cta_submission == submission
    assert conversions(campaign) == 1
