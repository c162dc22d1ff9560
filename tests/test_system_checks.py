"""Configuration is checked when the app starts (`manage.py check`, every command), not when a message fails."""

from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from automation.checks import check_automation_schedules
from config.checks import check_site_url
from notifications import kinds
from notifications.checks import check_message_templates, check_whatsapp_templates
from notifications.kinds import INAPP, get_kind
from notifications.models import Channel

TWILIO = "notifications.channels.whatsapp.twilio.WhatsAppBackend"
META = "notifications.channels.whatsapp.meta.WhatsAppBackend"
# Kinds that must have a WhatsApp template; marketing kinds go by email alone without one.
WHATSAPP_KINDS = sorted(
    kind.name
    for kind in kinds.all_kinds()
    if Channel.WHATSAPP in kind.channels and not kind.reply and not kind.is_marketing
)


def ids(messages) -> list[tuple[str, str]]:
    return [(message.id, message.obj) for message in messages]


# --- Message templates ------------------------------------------------------------------------


def test_every_shipped_message_kind_has_the_templates_its_channels_need():
    assert check_message_templates() == []


def test_a_kind_sent_in_app_without_its_inapp_template_is_an_error(monkeypatch):
    rejected = get_kind("cta_rejected")
    monkeypatch.setitem(kinds._registry, "cta_rejected", replace(rejected, channels=(Channel.EMAIL, INAPP)))
    (error,) = check_message_templates()
    assert (error.id, error.obj) == ("notifications.E010", "cta_rejected")
    assert "templates/notifications/cta_rejected/inapp.txt" in error.msg


def test_a_kind_without_any_template_names_each_missing_file(monkeypatch):
    probe = kinds.MessageKind(name="probe_kind", channels=(Channel.EMAIL, Channel.WHATSAPP))
    monkeypatch.setitem(kinds._registry, "probe_kind", probe)
    errors = check_message_templates()
    assert {error.id for error in errors} == {"notifications.E010"}
    missing = sorted(error.msg.split("templates/notifications/probe_kind/")[1].rstrip(".") for error in errors)
    assert missing == ["body.html", "body.txt", "subject.txt", "whatsapp.txt"]


def test_a_template_that_does_not_compile_is_an_error(monkeypatch, settings, tmp_path):
    folder = tmp_path / "notifications" / "probe_kind"
    folder.mkdir(parents=True)
    (folder / "whatsapp.txt").write_text("Hi {% if %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    monkeypatch.setitem(kinds._registry, "probe_kind", kinds.MessageKind(name="probe_kind", channels=("whatsapp",)))
    (error,) = check_message_templates()
    assert error.id == "notifications.E011" and "whatsapp.txt does not compile" in error.msg


# --- WhatsApp template ids --------------------------------------------------------------------


def test_without_a_whatsapp_provider_no_template_id_is_needed(settings):
    settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.file.WhatsAppBackend"
    assert check_whatsapp_templates() == []


def test_with_twilio_each_whatsapp_kind_without_a_content_sid_is_named(settings):
    settings.WHATSAPP_BACKEND = TWILIO
    settings.TWILIO_CONTENT_SIDS = {name: f"HX{index:032d}" for index, name in enumerate(WHATSAPP_KINDS)}
    assert check_whatsapp_templates() == []  # keyword replies (STOP, START) are free text: no template

    del settings.TWILIO_CONTENT_SIDS["payment_reminder"]
    settings.TWILIO_CONTENT_SIDS["payment_reminder:hi"] = "HX1"  # Hindi only: English messages still refused
    assert ids(check_whatsapp_templates()) == [("notifications.W012", "payment_reminder")]


def test_with_metas_cloud_api_each_whatsapp_kind_needs_an_approved_template_name(settings):
    settings.WHATSAPP_BACKEND = META
    settings.META_WHATSAPP_TEMPLATES = {}
    assert ids(check_whatsapp_templates()) == [("notifications.W013", name) for name in WHATSAPP_KINDS]
    settings.META_WHATSAPP_TEMPLATES = dict.fromkeys(WHATSAPP_KINDS, "approved_template")
    assert check_whatsapp_templates() == []


def test_a_template_id_for_no_message_kind_is_a_typo_worth_a_warning(settings):
    settings.WHATSAPP_BACKEND = TWILIO
    settings.TWILIO_CONTENT_SIDS = {**dict.fromkeys(WHATSAPP_KINDS, "HX1"), "sesion_24h": "HX2"}
    (warning,) = check_whatsapp_templates()
    assert warning.id == "notifications.W014" and "'sesion_24h'" in warning.msg


# --- Job schedules ----------------------------------------------------------------------------


def test_schedules_for_known_jobs_in_a_readable_form_pass(settings):
    settings.AUTOMATION_SCHEDULES = {"payment_reminders": "daily@09:30", "session_reminders_24h": "every:5"}
    assert check_automation_schedules() == []


def test_a_schedule_for_an_unknown_job_is_an_error_and_a_short_name_gets_the_full_one(settings):
    settings.AUTOMATION_SCHEDULES = {"payments": "daily@09:30", "newsletter": "every:5"}
    errors = check_automation_schedules()
    assert [error.id for error in errors] == ["automation.E001", "automation.E001"]
    assert errors[0].hint == "Use the job's full name, 'payment_reminders'."
    assert "'newsletter', which is no job" in errors[1].msg and "session_reminders_24h" in errors[1].hint


def test_a_schedule_that_cannot_be_read_is_an_error(settings):
    settings.AUTOMATION_SCHEDULES = {"payment_reminders": "weekly"}
    (error,) = check_automation_schedules()
    assert error.id == "automation.E002" and "'every:MINUTES' or 'daily@HH:MM'" in error.hint


def test_manage_py_check_stops_on_a_misnamed_schedule(settings):
    settings.AUTOMATION_SCHEDULES = {"payments": "daily@09:30"}
    with pytest.raises(SystemCheckError, match=r"automation\.E001"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


# --- SITE_URL in production ---------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.IS_DEVELOPMENT = False
    settings.ALLOWED_HOSTS = ["school.example.com", ".cdn.example.com"]
    return settings


def test_in_development_any_site_url_will_do(settings):
    settings.IS_DEVELOPMENT, settings.SITE_URL = True, "http://localhost:8000"
    assert check_site_url() == []


@pytest.mark.parametrize("url", ["https://school.example.com", "https://www.cdn.example.com"])
def test_in_production_an_https_site_url_on_an_allowed_host_passes(production, url):
    production.SITE_URL = url
    assert check_site_url() == []


@pytest.mark.parametrize("url", ["http://school.example.com", "school.example.com", ""])
def test_in_production_a_site_url_that_is_not_https_is_an_error(production, url):
    production.SITE_URL = url
    assert ids(check_site_url()) == [("config.E001", None)]


def test_in_production_a_site_url_on_a_host_this_site_refuses_is_an_error(production):
    production.SITE_URL = "https://www.school.example.com"
    (error,) = check_site_url()
    assert error.id == "config.E002" and "'www.school.example.com' is not in ALLOWED_HOSTS" in error.msg
