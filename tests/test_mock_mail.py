"""Mock mode's email: one .eml file per message, named so a person finds the one they look for."""

import datetime as dt
import email
import email.policy
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from lms import reminders
from lms.models import User
from lms.tests.factories import CourseFactory, EnrollmentFactory, LiveSessionFactory, UserFactory
from notifications.models import Delivery
from notifications.services.dispatch import dispatch_due_deliveries

ROOT = Path(__file__).resolve().parents[1]
BACKEND = "notifications.channels.eml_file.EmailBackend"
NAME = re.compile(r"^(\d{8}-\d{6})-session_24h-([a-z]+@example\.com)-(\d+)\.eml$")


@pytest.mark.django_db
def test_each_email_is_its_own_eml_file_named_by_time_kind_recipient_and_delivery(settings, tmp_path):
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = BACKEND, tmp_path / "mail"
    course = CourseFactory()
    for address in ("asha@example.com", "ravi@example.com"):
        EnrollmentFactory(course=course, student=UserFactory(email=address))
    session = LiveSessionFactory(
        course=course, title="Pandas Live", scheduled_at=timezone.now() + dt.timedelta(hours=20)
    )
    before = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    reminders.plan_session_reminders_24h(now=timezone.now())
    dispatch_due_deliveries(now=timezone.now())

    files = sorted((tmp_path / "mail").iterdir())
    names = [NAME.match(path.name) for path in files]
    assert all(names), [path.name for path in files]
    ids = dict(Delivery.objects.filter(channel="email").values_list("to_address", "pk"))
    assert {(match[2], int(match[3])) for match in names} == set(ids.items())
    assert all(match[1] >= before for match in names)

    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    # 20 h ahead is tomorrow, or later today, in the students' zone by the hour the test runs at.
    local = ZoneInfo(User.objects.get(email="asha@example.com").timezone)
    same_day = session.scheduled_at.astimezone(local).date() == timezone.now().astimezone(local).date()
    assert message["Subject"] == f"Starts {'Today' if same_day else 'Tomorrow'}: Pandas Live"
    assert message["X-Delivery-ID"] == names[0][3]
    assert message.get_body(("plain",)).get_content().startswith("Hi ")
    assert "<html" in message.get_body(("html",)).get_content()
    assert any(part.get_filename() == "session.ics" for part in message.iter_attachments())


def test_two_emails_with_the_same_name_in_the_same_second_both_stay(tmp_path):
    from django.core.mail import EmailMessage

    from notifications.channels.eml_file import EmailBackend

    backend = EmailBackend(file_path=tmp_path)
    messages = [
        EmailMessage(subject=f"Note {n}", body="Hello", to=["a b/c@example.com"], headers={"X-Delivery-ID": "7"})
        for n in (1, 2)
    ]
    assert backend.send_messages(messages) == 2
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 2 and all("-email-a_b_c@example.com-7" in name for name in files)
    assert sum(name.endswith("-7-2.eml") for name in files) == 1


@pytest.mark.slow
def test_mock_mode_sends_email_to_eml_files():
    env = {"PATH": os.environ["PATH"], "DJANGO_ENV": "development", "MOCK_MODE": "true"}
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.EMAIL_BACKEND)",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == BACKEND, shown.stderr


@pytest.mark.django_db
def test_the_delivery_report_says_where_the_eml_files_are(settings, tmp_path):
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = BACKEND, tmp_path / "mail"
    out = StringIO()
    call_command("delivery_report", stdout=out)
    assert f"email     one .eml file per message in {tmp_path / 'mail'}/" in out.getvalue()
