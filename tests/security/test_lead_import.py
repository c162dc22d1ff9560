"""A hostile leads CSV through the real admin upload page: a clear report, never a 500."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.columns import map_columns
from leads.models import ImportBatch, Lead
from lms.tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db
UPLOAD = "/admin/leads/importbatch/upload/"


@pytest.fixture
def staff(client):
    user = StaffUserFactory()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="leads", codename__in=["add_lead", "view_importbatch"])
    )
    client.force_login(user)
    return client


def upload(client, body: bytes):
    """Upload, then import with the columns as recognised (the mapping step, leadsops)."""
    file = SimpleUploadedFile("list.csv", body, content_type="text/csv")
    response = client.post(UPLOAD, {"file": file, "source": "webinar"})
    if response.status_code != 302:
        return response  # the file itself was refused, on the upload form
    uses = map_columns(body.split(b"\n", 1)[0].decode().split(",")).uses
    return client.post(
        response["Location"], {**{f"col_{i}": use for i, use in enumerate(uses)}, "import": "1"}, follow=True
    )


def test_a_cell_over_131072_characters_is_a_row_in_the_report(staff):
    body = b"email,notes\nasha@example.com," + b"x" * 131_073 + b"\nravi@example.com,ok\n"
    response = upload(staff, body)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Imported 1 new leads" in page and "1 invalid" in page
    assert "a cell is longer than 131,072 characters" in page
    assert list(Lead.objects.values_list("email", flat=True)) == ["ravi@example.com"]


def test_too_many_columns_or_too_much_extra_data_never_reach_a_lead(staff, settings):
    wide = ",".join(["email", *(f"c{i}" for i in range(settings.LEAD_IMPORT_MAX_COLUMNS))]).encode()
    response = upload(staff, wide + b"\na@example.com\n")
    assert response.status_code == 200
    assert f"the limit is {settings.LEAD_IMPORT_MAX_COLUMNS}" in response.content.decode()
    assert not ImportBatch.objects.exists()

    stuffed = b"email,notes,more\na@example.com," + b"n" * 60_000 + b"," + b"m" * 60_000 + b"\n"
    response = upload(staff, stuffed)
    assert response.status_code == 200
    assert "a lead keeps at most" in response.content.decode()
    assert not Lead.objects.exists()
