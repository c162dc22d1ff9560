"""Staff who read Hindi get the staff console, the jobs page and the lead import's steps in Hindi:
every string those templates mark has its Hindi, and none of them is left in English on the page."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation.template import templatize

from lms.tests.factories import StaffUserFactory
from tests.hindi import BASE, _extract, untranslated, visible_text

pytestmark = pytest.mark.django_db
CONSOLE = "templates/admin/automation/dashboard.html"
MAP_STEP = ("templates/admin/leads/import_map.html", "templates/admin/leads/import_report_rows.html")
EXPORT = (
    "Full Name,Mobile,Email Address,City\n"
    + "".join(f"Person {n},98765 4321{n},person{n}@example.com,Pune\n" for n in range(3))
    + "Broken,123,not-an-email,Delhi\n"
).encode()


def msgids(*templates: str) -> set:
    found = set()
    for name in templates:
        found |= _extract(templatize((BASE / name).read_text(), origin=name))
    return found


def english_left(page: str, messages: set, *, data: tuple[str, ...] = ()) -> list[str]:
    """The msgids of the page's templates still shown in English (those without placeholders or markup)
    in its breadcrumbs and content (the admin's app list beside them names the models), beside `data`."""
    crumbs = re.search(r'<div class="breadcrumbs">.*?</div>', page, re.S).group(0)
    text = " ".join(visible_text(crumbs + page[page.index('id="content-main"') :]).split())
    for value in data:
        text = text.replace(value, " ")
    plain = [m for m in messages if isinstance(m, str) and "%(" not in m and "<" not in m and len(m) > 4]
    return sorted(m for m in plain if re.search(rf"(?<![\w-]){re.escape(m)}(?![\w-])", text))


def hindi_staff(*codenames: str):
    staff = StaffUserFactory(language="hi")
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def test_the_console_dashboard_and_the_import_mapping_step_are_hindi_for_hindi_staff(client):
    client.force_login(hindi_staff("view_delivery", "add_lead", "view_importbatch"))

    dashboard = client.get("/admin/console/").content.decode()
    upload = SimpleUploadedFile("crm.csv", EXPORT, content_type="text/csv")
    step = client.post("/admin/leads/importbatch/upload/", {"file": upload, "start_campaign": "on"})["Location"]
    mapping = client.get(step).content.decode()

    assert untranslated(msgids(CONSOLE)) == [] and untranslated(msgids(*MAP_STEP)) == []
    assert "कल का आउटबॉक्स" in dashboard and "प्रति दिन संदेश" in dashboard and "चैनल" in dashboard
    assert english_left(dashboard, msgids(CONSOLE)) == []
    assert "हर कॉलम में क्या है" in mapping and "3 लीड इम्पोर्ट करें" in mapping
    assert "ईमेल (ज़रूरी)" in mapping and "पंक्ति रिपोर्ट" in mapping and "<th>कारण</th>" in mapping
    assert english_left(mapping, msgids(*MAP_STEP), data=("Email Address",)) == []
    assert "What each column holds" not in mapping and "Import 3 leads" not in mapping


def test_the_jobs_page_workers_and_attention_sections_are_hindi_for_hindi_staff(client):
    staff = hindi_staff()
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)

    page = client.get("/admin/automation/jobs/").content.decode()

    assert untranslated(msgids("templates/admin/automation/jobs.html")) == []
    assert "ध्यान बजट, प्रति दिन" in page and '<h2 id="workers">वर्कर</h2>' in page
    assert "Last heartbeat" not in page and "Nothing held or folded" not in page


def test_the_session_page_figures_are_hindi_for_hindi_staff(client):
    from lms.tests.factories import EnrollmentFactory, LiveSessionFactory

    session = LiveSessionFactory()
    EnrollmentFactory(course=session.course)
    staff = hindi_staff()
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)

    page = client.get(f"/admin/lms/livesession/{session.pk}/change/").content.decode()

    template = "templates/admin/lms/livesession/change_form.html"
    assert untranslated(msgids(template)) == []
    figures = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td></tr>', page))
    assert figures["नामांकित"] == "1" and figures["जवाब: हाँ / नहीं / 1 घंटा पहले याद दिलाएँ / कोई जवाब नहीं"]
    assert figures["न आने वाले जिन्होंने रिकॉर्डिंग खोली"] == "1 में से 0"  # 0 of the 1 no-show
    assert "किसने क्या जवाब दिया" in page and "कोई जवाब नहीं" in page
    assert "Who answered what" not in page and "Enrolled" not in page
