"""Staff upload leads in the admin, read the report, download it, and see campaign statistics."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import ImportBatch, Lead
from lms.tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db
UPLOAD = "/admin/leads/importbatch/upload/"


def staff_with(*codenames):
    user = StaffUserFactory()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="leads", codename__in=codenames))
    return user


def csv_file(text: bytes, name="list.csv"):
    return SimpleUploadedFile(name, text, content_type="text/csv")


def test_staff_upload_a_csv_and_see_the_report_and_download_it(client):
    client.force_login(staff_with("add_lead", "view_importbatch", "view_leadcampaign"))
    assert "Upload leads" in client.get("/admin/leads/importbatch/").content.decode()

    body = b'name,email\nAsha,asha@example.com\n"=HYPERLINK(""x"")",bad-address\nAsha again,ASHA@example.com\n'
    response = client.post(UPLOAD, {"file": csv_file(body), "source": "webinar", "start_campaign": "on"})
    assert response.status_code == 302 and not ImportBatch.objects.exists()  # the mapping step comes first
    mapping = client.get(response["Location"]).content.decode()
    assert "is not a valid email address" in mapping and not Lead.objects.exists()
    response = client.post(response["Location"], {"col_0": "name", "col_1": "email", "import": "1"}, follow=True)
    page = response.content.decode()
    assert "Imported 1 new leads from list.csv" in page
    assert "also on line 2 of this file" in page and "is not a valid email address" in page

    batch = ImportBatch.objects.get()
    report = client.get(f"/admin/leads/importbatch/{batch.pk}/report.csv")
    assert report["Content-Type"].startswith("text/csv")
    text = report.content.decode()
    assert text.splitlines()[0] == "line,status,email,name,reason"
    assert "'=HYPERLINK" in text
    assert Lead.objects.get().campaign is not None

    campaign_page = client.get(f"/admin/leads/leadcampaign/{batch.campaign.pk}/change/").content.decode()
    assert "Funnel" in campaign_page and "Day 0" in campaign_page and "Emailed" in campaign_page


def test_a_bad_file_shows_the_reason_on_the_form_and_imports_nothing(client):
    client.force_login(staff_with("add_lead", "view_importbatch"))
    response = client.post(UPLOAD, {"file": csv_file("name,email\nJosé,j@example.com\n".encode("latin-1"))})
    assert response.status_code == 200
    assert "not UTF-8" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_staff_without_the_permission_cannot_upload_even_with_a_forged_post(client):
    client.force_login(staff_with("view_importbatch"))
    assert "Upload leads" not in client.get("/admin/leads/importbatch/").content.decode()
    response = client.post(UPLOAD, {"file": csv_file(b"email\na@example.com\n")})
    assert response.status_code == 403
    assert client.post(UPLOAD + "x" * 32 + "/", {"col_0": "email", "import": "1"}).status_code == 403
    assert not Lead.objects.exists()
