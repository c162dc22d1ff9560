"""Staff export a campaign's leads and import a CRM export ("Full Name", "Mobile") through the
mapping step, in the real admin, in Debian's chromium."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission

from leads.models import Lead, LeadCampaign
from leads.tests.factories import LeadFactory
from lms.tests.factories import TEST_PASSWORD, StaffUserFactory
from notifications.models import Delivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CRM_EXPORT = "Full Name,Mobile,Email Address,City\n" + "".join(
    f"Student {n},98100 0000{n},student{n}@example.com,Pune\n" for n in range(6)
)


@pytest.fixture
def desktop(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def log_in(page, staff, next_url):
    page.goto(f"/admin/login/?next={next_url}")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_staff_export_a_campaigns_leads_then_import_a_crm_export(desktop, artifacts, tmp_path):
    staff = StaffUserFactory(email="priya@school.example", name="Priya Nair")
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="leads",
            codename__in=["view_lead", "add_lead", "view_leadcampaign", "view_importbatch"],
        )
    )
    campaign = LeadCampaign.objects.create(name="November webinar", total_leads=2)
    LeadFactory(campaign=campaign, status="contacted", name="Asha Verma", email="asha@example.com")
    LeadFactory(campaign=campaign, status="contacted", name="Ravi Kumar", email="ravi@example.com")
    LeadFactory(email="elsewhere@example.com")
    page = desktop

    # Export: from the campaign's page, its leads only.
    log_in(page, staff, f"/admin/leads/leadcampaign/{campaign.pk}/change/")
    page.screenshot(path=str(artifacts / "admin-campaign-exports.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("export-campaign-leads").click()
    path = tmp_path / "leads.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert sorted(row["email"] for row in rows) == ["asha@example.com", "ravi@example.com"]
    assert {row["campaign"] for row in rows} == {"November webinar"}

    # Import: the mapping step shows the recognised columns, the rows and the report; nothing yet.
    upload = tmp_path / "crm-export.csv"
    upload.write_text(CRM_EXPORT, encoding="utf-8")
    page.goto("/admin/leads/importbatch/upload/")
    page.set_input_files("#id_file", str(upload))
    page.fill("#id_source", "crm")
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_test_id("column-mapping").wait_for()
    assert page.locator("#id_col_0").input_value() == "name"
    assert page.locator("#id_col_1").input_value() == "phone"
    assert page.locator("#id_col_2").input_value() == "email"
    assert "Column “City” is not a name, email or phone" in page.get_by_test_id("unused-columns").inner_text()
    assert "Student 0" in page.get_by_test_id("preview-rows").inner_text()
    assert "6 new leads" in page.get_by_test_id("preview-report").inner_text()
    page.screenshot(path=str(artifacts / "admin-import-mapping.png"), full_page=True)
    assert Lead.objects.count() == 3 and not Delivery.objects.exists()

    page.get_by_role("button", name="Import 6 leads").click()
    message = page.locator("ul.messagelist li").first
    message.wait_for()
    assert "Imported 6 new leads from crm-export.csv" in message.inner_text()
    assert "6 Day 0 emails are planned" in message.inner_text()
    page.screenshot(path=str(artifacts / "admin-import-done.png"), full_page=True)
    imported = Lead.objects.filter(source="crm")
    assert imported.count() == 6
    assert not imported.filter(name="").exists() and not imported.filter(phone="").exists()
    assert imported.get(email="student4@example.com").phone == "+919810000004"
