"""Import what people export: common headers recognised, a mapping step with a preview and the row
report before anything is written or sent, a warning for every column left unused."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from leads.columns import map_columns, normalise_header, recognise
from leads.importing import import_leads
from leads.models import ImportBatch, Lead
from lms.tests.factories import StaffUserFactory
from notifications.models import Delivery

pytestmark = pytest.mark.django_db
UPLOAD = "/admin/leads/importbatch/upload/"
EXPORT = (
    "Full Name,Mobile,Email Address,City,Notes\n"
    + "".join(f"Person {n},98765 4321{n},person{n}@example.com,Pune,\n" for n in range(6))
).encode()


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Full Name", "name"),
        (" NAME ", "name"),
        ("full_name", "name"),
        ("Mobile", "phone"),
        ("Phone", "phone"),
        ("Phone Number", "phone"),
        ("phone-number", "phone"),
        ("WhatsApp", "phone"),
        ("WHATSAPP NUMBER", "phone"),
        ("Contact", "phone"),
        ("Email Address", "email"),
        ("E-Mail", "email"),
        ("email", "email"),
        ("City", ""),
        ("mail address", ""),
    ],
)
def test_common_headers_are_recognised_in_any_case_and_spacing(header, field):
    assert recognise(header) == field


def test_the_first_column_of_a_field_holds_it_and_the_others_are_named_in_warnings():
    columns = map_columns(["Phone", "WhatsApp", "Email", "City"])
    assert columns.fields == {"phone": 0, "email": 2}
    warnings = " ".join(columns.warnings())
    assert "“WhatsApp”" in warnings and "“City”" in warnings and "without one" in warnings  # no name column
    assert normalise_header("  Phone No. ") == "phone no"


def test_import_leads_reads_full_name_and_mobile():
    result = import_leads(data=EXPORT, filename="crm.csv", start_campaign=False)
    assert result.batch.created_count == 6
    lead = Lead.objects.get(email="person3@example.com")
    assert (lead.name, lead.phone, lead.data) == ("Person 3", "+919876543213", {"city": "Pune"})
    assert not Lead.objects.filter(name="").exists() and not Lead.objects.filter(phone="").exists()


def test_the_cli_recognises_the_same_headers(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_bytes(EXPORT)
    call_command("import_leads", str(path), "--no-campaign")
    assert sorted(Lead.objects.values_list("name", flat=True)) == [f"Person {n}" for n in range(6)]
    assert all(phone.startswith("+91") for phone in Lead.objects.values_list("phone", flat=True))


def staff():
    user = StaffUserFactory()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="leads", codename__in=["add_lead", "view_importbatch"])
    )
    return user


def test_the_admin_shows_the_mapping_preview_and_report_before_any_email_then_imports(client):
    client.force_login(staff())
    upload = SimpleUploadedFile("crm.csv", EXPORT + b"Broken,123,not-an-email,Delhi,x\n", content_type="text/csv")
    response = client.post(UPLOAD, {"file": upload, "source": "crm", "start_campaign": "on"})
    assert response.status_code == 302
    step = response["Location"]
    page = client.get(step).content.decode()
    # The recognised columns are chosen, the first rows shown, the report and the unused columns said.
    assert '<option value="name" selected>' in page and '<option value="phone" selected>' in page
    assert "Person 0" in page and "98765 43210" in page
    assert "“not-an-email” is not a valid email address" in page
    assert "Column “City” is not a name, email or phone" in page and "Column “Notes”" in page
    assert "Import 6 leads" in page
    assert not Lead.objects.exists() and not ImportBatch.objects.exists() and not Delivery.objects.exists()

    # Staff drop a column; the preview says so, and still nothing is written.
    choice = {"col_0": "name", "col_1": "phone", "col_2": "email", "col_3": "ignore", "col_4": "keep"}
    page = client.post(step, {**choice, "preview": "1"}).content.decode()
    assert "Column “City” is not used" in page and not Lead.objects.exists()

    response = client.post(step, {**choice, "import": "1"}, follow=True)
    assert "Imported 6 new leads from crm.csv" in response.content.decode()
    assert Lead.objects.filter(name__startswith="Person", phone__startswith="+91").count() == 6
    assert Lead.objects.get(email="person0@example.com").data == {}  # City ignored, Notes empty
    assert Delivery.objects.filter(event__kind="lead_day0").count() == 6
    assert client.get(step).status_code == 404  # imported once; the staged file is gone


def test_the_mapping_step_refuses_a_mapping_without_email_and_imports_nothing(client):
    client.force_login(staff())
    upload = SimpleUploadedFile("x.csv", b"Who,Mail\nAsha,asha@example.com\n", content_type="text/csv")
    step = client.post(UPLOAD, {"file": upload})["Location"]
    page = client.get(step).content.decode()
    assert "no “email” column" in page and "Import " not in page.split("submit-row")[-1]
    page = client.post(step, {"col_0": "name", "col_1": "keep", "import": "1"}).content.decode()
    assert "Choose the column that holds the email address" in page and not Lead.objects.exists()
    response = client.post(step, {"col_0": "name", "col_1": "email", "import": "1"})
    assert response.status_code == 302
    assert Lead.objects.get().name == "Asha"


def test_another_staff_members_session_cannot_open_an_upload(client):
    client.force_login(staff())
    upload = SimpleUploadedFile("x.csv", EXPORT, content_type="text/csv")
    step = client.post(UPLOAD, {"file": upload})["Location"]
    client.force_login(staff())
    assert client.get(step).status_code == 404
