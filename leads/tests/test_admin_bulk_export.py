"""Staff act on many leads at once and export what the lists show, streamed, with permission checks."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse

from leads.models import CrmActivity, Lead, LeadCampaign
from lms.tests.factories import StaffUserFactory
from notifications.models import Delivery

from .factories import LeadFactory

pytestmark = pytest.mark.django_db
LEADS = "/admin/leads/lead/"


def staff_with(*codenames):
    user = StaffUserFactory()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)  # streamed, not built in memory
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def action(client, verb, leads, **extra):
    return client.post(LEADS, {"action": verb, "_selected_action": [lead.pk for lead in leads], **extra}, follow=True)


def test_start_day0_for_the_selected_plans_once_and_skips_leads_not_new(client):
    client.force_login(staff_with("view_lead", "change_lead"))
    fresh = LeadFactory.create_batch(2)
    converted = LeadFactory(status=Lead.Status.CONVERTED, converted_at="2026-01-01T00:00Z")
    page = action(client, "start_day0", [*fresh, converted]).content.decode()
    assert "Start the campaign" in page and not Delivery.objects.exists()  # a confirmation first
    page = action(client, "start_day0", [*fresh, converted], confirm="yes", name="Webinar").content.decode()
    assert "Webinar: 2 Day 0 emails planned; 1 skipped" in page
    assert Delivery.objects.filter(event__kind="lead_day0").count() == 2
    assert set(Lead.objects.filter(campaign__name="Webinar").values_list("status", flat=True)) == {"contacted"}
    action(client, "start_day0", fresh, confirm="yes", name="Again")
    assert Delivery.objects.filter(event__kind="lead_day0").count() == 2  # nobody gets Day 0 twice


def test_add_to_an_existing_campaign_created_in_the_admin(client):
    client.force_login(staff_with("view_lead", "change_lead", "add_leadcampaign", "view_leadcampaign"))
    response = client.post(
        "/admin/leads/leadcampaign/add/", {"name": "Diwali", "status": "active", "cost": "500", "currency": "INR"}
    )
    assert response.status_code == 302
    campaign = LeadCampaign.objects.get(name="Diwali")
    leads = LeadFactory.create_batch(3)
    action(client, "add_to_campaign", leads, confirm="yes", campaign=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.total_leads == 3 and Lead.objects.filter(campaign=campaign, status="contacted").count() == 3


def test_set_language_and_mark_converted_count_each_lead_once(client):
    client.force_login(staff_with("view_lead", "change_lead"))
    campaign = LeadCampaign.objects.create(name="C", total_leads=2)
    leads = LeadFactory.create_batch(2, campaign=campaign, status=Lead.Status.CONTACTED)
    action(client, "set_language", leads, confirm="yes", language="hi")
    assert set(Lead.objects.values_list("language", flat=True)) == {"hi"}
    page = action(client, "mark_converted", leads).content.decode()
    assert "2 leads marked converted" in page
    page = action(client, "mark_converted", leads).content.decode()
    assert "0 leads marked converted" in page and "2 were converted already" in page
    campaign.refresh_from_db()
    assert campaign.conversions == 2
    assert CrmActivity.objects.filter(kind="lead_converted", actor__isnull=False).count() == 2


def test_bulk_actions_need_the_change_permission(client):
    client.force_login(staff_with("view_lead"))
    lead = LeadFactory()
    response = action(client, "mark_converted", [lead])
    assert Lead.objects.get().status == "new"
    assert "mark_converted" not in client.get(LEADS).content.decode()
    assert response.status_code == 200


def test_the_leads_export_follows_the_lists_filters_and_escapes_formulas(client):
    client.force_login(staff_with("view_lead", "view_leadcampaign"))
    campaign = LeadCampaign.objects.create(name="Export me")
    LeadFactory(campaign=campaign, name="=cmd()", email="in@example.com", status=Lead.Status.CONTACTED)
    LeadFactory(email="out@example.com")
    page = client.get(f"{LEADS}?campaign__id__exact={campaign.pk}").content.decode()
    assert f"/admin/leads/lead/export.csv?campaign__id__exact={campaign.pk}" in page
    rows = rows_of(client.get(f"/admin/leads/lead/export.csv?campaign__id__exact={campaign.pk}"))
    assert rows[0][:3] == ["id", "email", "name"] and len(rows) == 2
    assert rows[1][1:3] == ["in@example.com", "'=cmd()"] and rows[1][6] == "Export me"
    assert len(rows_of(client.get("/admin/leads/lead/export.csv"))) == 3
    campaign_page = client.get(f"/admin/leads/leadcampaign/{campaign.pk}/change/").content.decode()
    assert f"export.csv?campaign__id__exact={campaign.pk}" in campaign_page
    stats = rows_of(client.get(f"/admin/leads/leadcampaign/{campaign.pk}/statistics.csv"))
    assert ["Campaign", "Export me"] in stats and any(row[:1] == ["Day 0"] for row in stats)


def test_exports_need_the_view_permission(client):
    client.force_login(staff_with("view_importbatch"))
    assert client.get("/admin/leads/lead/export.csv").status_code == 403
    assert client.get("/admin/notifications/delivery/export.csv").status_code == 403


def test_the_deliveries_export_streams_the_filtered_ledger(client):
    from notifications.tests.factories import DeliveryFactory

    client.force_login(staff_with("view_delivery"))
    DeliveryFactory(status="failed", channel="email")
    DeliveryFactory(status="sent", channel="email")
    rows = rows_of(client.get("/admin/notifications/delivery/export.csv?status__exact=failed"))
    assert len(rows) == 2 and rows[1][6] == "failed"
    assert "Export CSV" in client.get("/admin/notifications/delivery/").content.decode()
