"""Lead CSV import: a corpus of bad files, each with the right report and nothing imported by halves."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.core.validators import validate_email

from leads.importing import import_leads, is_valid_email, report_csv
from leads.models import ImportBatch, Lead, LeadCampaign
from notifications.models import Delivery

from .factories import LeadFactory

pytestmark = pytest.mark.django_db


def run(text: str | bytes, **kwargs):
    data = text.encode() if isinstance(text, str) else text
    return import_leads(data=data, filename="leads.csv", source="test", **kwargs)


def statuses(result):
    return [(row.line, row.status, row.email, row.reason) for row in result.rows]


def test_a_clean_file_creates_leads_and_starts_the_day0_campaign():
    result = run("name,email,phone,city\nAsha Verma,asha@example.com,98765 43210,Pune\nRavi,ravi@example.com,,Delhi\n")

    batch = result.batch
    assert (batch.total_rows, batch.created_count, batch.duplicate_count, batch.invalid_count) == (2, 2, 0, 0)
    asha = Lead.objects.get(email="asha@example.com")
    assert (asha.name, asha.phone, asha.data, asha.status) == (
        "Asha Verma",
        "+919876543210",
        {"city": "Pune"},
        "contacted",
    )
    assert asha.campaign == LeadCampaign.objects.get(import_batch=batch)
    assert asha.first_contacted_at is not None
    assert Delivery.objects.filter(event__kind="lead_day0").count() == 2
    assert result.leads_emailed == 2


def test_a_utf8_bom_and_header_case_and_spaces_are_accepted():
    result = run("\ufeff Name , EMAIL ,Phone\nAsha, ASHA@Example.COM ,+91 98765 43210\n")
    assert Lead.objects.get().email == "asha@example.com"
    assert result.batch.created_count == 1


def test_another_encoding_is_refused_whole_with_a_clear_message():
    latin1 = "name,email\nJosé,jose@example.com\n".encode("latin-1")
    with pytest.raises(ValidationError, match=r"not UTF-8.*CSV UTF-8"):
        run(latin1)
    assert not ImportBatch.objects.exists() and not Lead.objects.exists()


def test_a_file_without_an_email_column_is_refused():
    with pytest.raises(ValidationError, match=r"no “email” column.*“name”, “mail address”"):
        run("name,mail address\nAsha,asha@example.com\n")
    assert not Lead.objects.exists()


def test_blank_lines_are_skipped_and_line_numbers_stay_true():
    result = run("name,email\n\nAsha,asha@example.com\n,,\n\nbad,not-an-email\n")
    assert statuses(result) == [
        (3, "created", "asha@example.com", ""),
        (6, "invalid", "not-an-email", "“not-an-email” is not a valid email address"),
    ]


def test_duplicates_in_the_file_and_against_existing_leads_are_reported_not_duplicated():
    LeadFactory(email="old@example.com")
    result = run("email\nnew@example.com\nNEW@example.com\nold@example.com\n")
    assert statuses(result) == [
        (2, "created", "new@example.com", ""),
        (3, "duplicate", "new@example.com", "also on line 2 of this file"),
        (4, "duplicate", "old@example.com", "already a lead"),
    ]
    assert Lead.objects.filter(email="new@example.com").count() == 1


def test_a_lead_saved_with_capitals_is_already_a_lead_whatever_the_case_in_the_file():
    LeadFactory(email="Old.Friend@Example.com")
    result = run("email\nold.friend@example.com\nOLD.FRIEND@EXAMPLE.COM\n")
    assert statuses(result) == [
        (2, "duplicate", "old.friend@example.com", "already a lead"),
        (3, "duplicate", "old.friend@example.com", "already a lead"),
    ]
    assert result.batch.created_count == 0 and Lead.objects.count() == 1


def test_invalid_emails_are_reported_with_the_reason():
    result = run("name,email,phone\nA,,\nB,b@,\n")
    reasons = {line: (status, reason) for line, status, _, reason in statuses(result)}
    assert reasons[2] == ("invalid", "the email is empty")
    assert reasons[3] == ("invalid", "“b@” is not a valid email address")
    assert result.batch.invalid_count == 2 and not Lead.objects.exists()


def test_a_good_email_with_a_bad_phone_is_imported_without_the_phone_and_a_warning(tmp_path):
    result = run("name,email,phone\nC,c@example.com,12\nD,d@example.com,+1 202 555 01\nE,e@example.com,98765 43210\n")
    rows = {line: (status, reason) for line, status, _, reason in statuses(result)}
    assert rows[2] == ("created", "imported without the phone: “12” is not a valid phone number.")
    assert rows[3][0] == "created" and rows[3][1].startswith("imported without the phone: “+1 202 555 01”")
    assert rows[4] == ("created", "")
    assert (result.batch.created_count, result.batch.invalid_count, result.warnings) == (3, 0, 2)
    assert dict(Lead.objects.values_list("email", "phone")) == {
        "c@example.com": "",
        "d@example.com": "",
        "e@example.com": "+919876543210",
    }
    assert result.leads_emailed == 3  # the email is what the campaign needs
    assert "c@example.com,C,imported without the phone" in report_csv(result.batch)


def test_a_student_in_the_list_is_not_a_new_lead_and_gets_no_campaign_email():
    from lms.tests.factories import StaffUserFactory, UserFactory

    UserFactory(email="meera@example.com", name="Meera Phone")
    StaffUserFactory(email="Coach@School.example")
    result = run("name,email\nMeera,MEERA@example.com\nCoach,coach@school.example\nRavi,ravi@example.com\n")

    assert statuses(result) == [
        (2, "duplicate", "meera@example.com", "already a student (has an account), so no campaign email"),
        (3, "duplicate", "coach@school.example", "has a staff account, so no campaign email"),
        (4, "created", "ravi@example.com", ""),
    ]
    assert list(Lead.objects.values_list("email", flat=True)) == ["ravi@example.com"]
    assert result.leads_emailed == 1
    assert list(Delivery.objects.filter(event__kind="lead_day0").values_list("to_address", flat=True)) == [
        "ravi@example.com"
    ]
    assert (result.batch.created_count, result.batch.duplicate_count) == (1, 2)


def test_the_command_lists_students_skipped_and_phones_left_out(tmp_path):
    from io import StringIO

    from lms.tests.factories import UserFactory

    UserFactory(email="meera@example.com")
    path = tmp_path / "leads.csv"
    path.write_text("name,email,phone\nMeera,meera@example.com,\nC,c@example.com,12\n")
    out = StringIO()
    call_command("import_leads", str(path), "--no-campaign", stdout=out)
    text = out.getvalue()
    assert "meera@example.com" in text and "already a student" in text
    assert "c@example.com" in text and "imported without the phone" in text


@pytest.mark.parametrize(
    "email",
    [
        "asha@example.com",
        "a.b+tag@sub.example.co.in",
        "a@localhost",
        "a@[127.0.0.1]",
        "a@[::1]",
        "a@[999.0.0.1]",
        '"quoted user"@example.com',
        "a..b@example.com",
        ".a@example.com",
        "a@b@example.com",
        "@example.com",
        "a@",
        "a@-example.com",
        "a@example",
        "a@exam_ple.com",
        "a@münchen.de",
        "user@xn--mnchen-3ya.de",
        "a b@example.com",
        "no-at-sign",
        "x" * 64 + "@" + ("d" * 60 + ".") * 4 + "com",
        "x" * 300 + "@example.com",
        "a@" + "d" * 63 + ".com",
        "a@" + "d" * 64 + ".com",
    ],
)
def test_the_email_check_says_what_djangos_validate_email_says(email):
    try:
        validate_email(email)
        django_says = True
    except ValidationError:
        django_says = False
    assert is_valid_email(email) is django_says
    assert is_valid_email(email) is django_says  # and again, from what it remembers of the domain


def test_an_email_longer_than_a_lead_can_hold_is_invalid_not_a_failed_import():
    long_email = "x" * 250 + "@example.com"
    result = run(f"email\n{long_email}\nok@example.com\n")
    assert statuses(result) == [
        (2, "invalid", long_email, "the email is longer than 254 characters"),
        (3, "created", "ok@example.com", ""),
    ]


def test_cells_that_look_like_formulas_are_kept_as_data_and_escaped_in_the_report():
    result = run('name,email,note\n"=HYPERLINK(""http://x"")",f@example.com,+SUM(A1)\n@bad,=cmd|x@y.z,\n')
    lead = Lead.objects.get()
    assert lead.name == '=HYPERLINK("http://x")'
    report = report_csv(result.batch)
    assert "'=HYPERLINK" in report
    assert "'=cmd|x@y.z" in report
    assert "\n=" not in report and ",=" not in report


def test_an_oversize_file_is_refused(settings):
    settings.LEAD_IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="the limit is"):
        run("email\n" + "a@example.com\n" * 20)
    settings.LEAD_IMPORT_MAX_BYTES = 10_000
    settings.LEAD_IMPORT_MAX_ROWS = 3
    with pytest.raises(ValidationError, match="more than 3 rows"):
        run("email\n" + "".join(f"a{i}@example.com\n" for i in range(4)))
    assert not Lead.objects.exists()


def test_an_empty_file_or_a_header_only_file_is_refused():
    with pytest.raises(ValidationError, match="empty"):
        run("")
    with pytest.raises(ValidationError, match="no rows"):
        run("name,email\n")


def test_a_failure_midway_imports_nothing(monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("mail planning failed")

    monkeypatch.setattr("leads.importing.start_lead_campaign", explode)
    with pytest.raises(RuntimeError):
        run("email\na@example.com\nb@example.com\n")
    assert not Lead.objects.exists() and not ImportBatch.objects.exists() and not Delivery.objects.exists()


def test_semicolon_separated_files_from_european_excel_work():
    run("name;email;phone\nAnna;anna@example.de;\n")
    assert Lead.objects.get().name == "Anna"


def test_import_leads_command_prints_a_summary_and_writes_the_report(tmp_path, capsys):
    source = tmp_path / "list.csv"
    source.write_text("name,email\nAsha,asha@example.com\nX,bad\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    call_command("import_leads", str(source), "--source", "webinar", "--report", str(report))

    output = capsys.readouterr().out
    assert "Created" in output and "bad" in output
    assert report.read_text().splitlines()[0] == "line,status,email,name,reason"
    assert Lead.objects.get().source == "webinar"


def test_import_leads_command_reports_a_bad_file_as_a_command_error(tmp_path):
    source = tmp_path / "list.csv"
    source.write_bytes("email\nJosé@example.com\n".encode("cp1252"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_leads", str(source))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_leads", str(tmp_path / "missing.csv"))


def test_no_campaign_imports_without_emailing():
    run("email\na@example.com\n", start_campaign=False)
    assert Lead.objects.get().status == "new"
    assert not Delivery.objects.exists()


def test_a_cell_longer_than_csv_can_read_is_a_row_error_and_the_other_rows_import():
    huge = "x" * 140_000
    result = run(f"email,name,notes\nasha@example.com,Asha,{huge}\nravi@example.com,Ravi,ok\n")

    assert statuses(result) == [
        (2, "invalid", "", "a cell is longer than 131,072 characters, so the row cannot be read"),
        (3, "created", "ravi@example.com", ""),
    ]
    assert list(Lead.objects.values_list("email", flat=True)) == ["ravi@example.com"]


def test_a_quoted_cell_longer_than_csv_can_read_is_a_row_error_too():
    huge = "y" * 140_000
    result = run(f'email,notes\n"asha@example.com","{huge}"\nravi@example.com,fine\n')
    assert [(row.line, row.status) for row in result.rows] == [(2, "invalid"), (3, "created")]
    assert "longer than 131,072 characters" in result.rows[0].reason


def test_a_first_line_longer_than_csv_can_read_refuses_the_file():
    with pytest.raises(ValidationError, match="first line has a cell longer than 131,072"):
        run("email," + "z" * 140_000 + "\na@example.com,1\n")
    assert not ImportBatch.objects.exists()


def test_a_file_with_too_many_columns_is_refused(settings):
    settings.LEAD_IMPORT_MAX_COLUMNS = 5
    header = ",".join(["email", *(f"c{i}" for i in range(5))])
    with pytest.raises(ValidationError, match="6 columns; the limit is 5"):
        run(header + "\na@example.com,1,2,3,4,5\n")
    assert not Lead.objects.exists()


def test_a_lead_keeps_only_so_much_from_the_other_columns(settings):
    settings.LEAD_EXTRA_DATA_MAX_CHARS = 20
    result = run("email,name,city,notes\nasha@example.com,Asha,Pune,short\nravi@example.com,Ravi,Delhi," + "n" * 30)

    assert statuses(result) == [
        (2, "created", "asha@example.com", ""),
        (3, "invalid", "ravi@example.com", "the other columns hold 35 characters; a lead keeps at most 20"),
    ]
    assert Lead.objects.get().data == {"city": "Pune", "notes": "short"}


def test_the_default_limits_are_sensible(settings):
    assert 20 <= settings.LEAD_IMPORT_MAX_COLUMNS <= 500
    assert 1_000 <= settings.LEAD_EXTRA_DATA_MAX_CHARS < 131_072


def test_the_batch_page_lists_students_skipped_and_phones_left_out(admin_client):
    from django.urls import reverse

    from lms.tests.factories import UserFactory

    UserFactory(email="meera@example.com")
    result = run("name,email,phone\nMeera,meera@example.com,\nC,c@example.com,12\nE,e@example.com,\n")
    page = admin_client.get(reverse("admin:leads_importbatch_change", args=[result.batch.pk])).content.decode()
    assert "already a student (has an account), so no campaign email" in page
    assert "imported without the phone" in page and "c@example.com" in page
    assert "e@example.com" not in page  # a row imported whole is no news
