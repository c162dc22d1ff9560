"""A typo in a parsed setting fails `manage.py check`, naming the variable and the value, instead of the
site's start or a student's request; the apps read every such setting through their conf, lazily."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from automation.conf import AutomationConf
from common.throttle import ThrottleConf, rate_for
from common.throttle import conf as throttle_conf
from leads.conf import LeadsConf
from lms.conf import LmsConf
from notifications.conf import NotificationsConf
from notifications.conf import conf as notifications_conf

ROOT = Path(__file__).resolve().parent.parent
HX = "HX" + "0" * 32
# The environment variables of a dict setting's keys (Q_CLUSTER's timeout is Q_TIMEOUT).
PREFIXES = {
    "RATE_LIMITS": "RATE_LIMIT_",
    "NOTIFICATIONS": "NOTIFICATIONS_",
    "WELCOME_CALL": "WELCOME_CALL_",
    "LEAD_OFFER": "LEAD_OFFER_",
    "Q_CLUSTER": "Q_",
}

# (check id, setting, key in a dict setting or None, a bad value, a good value)
CASES = [
    ("common.E001", "RATE_LIMITS", "password_reset_ip", "10/hour", "20/h"),
    ("common.E002", "RATE_LIMITS", "password_reset_address", "5 per hour", "5/h"),
    ("common.E003", "RATE_LIMITS", "cta_ip", "10/0m", "10/15m"),
    ("common.E004", "RATE_LIMITS", "cta_address", "three/d", "3/d"),
    ("common.E005", "RATE_LIMITS", "phone_code_account", "5/w", "5/h"),
    ("common.E006", "RATE_LIMITS", "phone_code_number", "", "3/h"),
    ("common.E007", "RATE_LIMITS", "session_link_ip", "lots", "300/h"),
    ("common.W001", "RATE_LIMITS", "cta", "3/d", None),
    ("notifications.E020", "NOTIFICATIONS", "MAX_ATTEMPTS", "six", "6"),
    ("notifications.E021", "NOTIFICATIONS", "RETRY_BASE_SECONDS", "0", "60"),
    ("notifications.E022", "NOTIFICATIONS", "RETRY_MAX_SECONDS", "1h", "3600"),
    ("notifications.E023", "NOTIFICATIONS", "SENDING_LEASE_SECONDS", "-1", "40"),
    ("notifications.E024", "NOTIFICATIONS", "DISPATCH_BATCH_SIZE", "500 rows", "0"),
    ("notifications.E025", "NOTIFICATIONS", "EMAILS_PER_REQUEST", "0", "100"),
    ("notifications.E026", "NOTIFICATIONS", "SOFT_BOUNCE_LIMIT", "three", "3"),
    ("notifications.E027", "NOTIFICATIONS", "PLAN_CHUNK_SIZE", "0", "2000"),
    ("notifications.E028", "NOTIFICATIONS", "PAUSE_BASE_SECONDS", "1.5", "60"),
    ("notifications.E029", "NOTIFICATIONS", "DISPATCH_RUN_SECONDS", "", "50"),
    ("notifications.E030", "NOTIFICATIONS", "RECONCILE_AFTER_SECONDS", "-5", "0"),
    ("notifications.E031", "NOTIFICATIONS", "UNKNOWN_ALERT_MINUTES", "half an hour", "30"),
    ("notifications.E032", "NOTIFICATIONS", "DISPATCH_CONCURRENCY", "email:4", "email=8,whatsapp=1"),
    ("notifications.E032", "NOTIFICATIONS", "DISPATCH_CONCURRENCY", "sms=2", "email=8"),
    ("notifications.E033", "NOTIFICATIONS", "RATE_LIMITS", "whatsapp=fast", "whatsapp=40"),
    ("notifications.E033", "NOTIFICATIONS", "RATE_LIMITS", "telegram=1", "whatsapp=0.5"),
    ("notifications.E034", "NOTIFICATIONS", "PRIORITIES", "session_24h=first", "assignment_due=1"),
    ("notifications.E034", "NOTIFICATIONS", "PRIORITIES", "sesion_24h=1", "session_24h=1"),
    ("notifications.E034", "NOTIFICATIONS", "PRIORITIES", "session_24h=40000", "session_24h=0"),
    ("notifications.E035", "NOTIFICATIONS", "RETENTION_DAYS", "0", "90"),
    ("notifications.E036", "NOTIFICATIONS", "RETENTION_BATCH_SIZE", "5k", "5000"),
    ("notifications.E037", "NOTIFICATIONS", "RETENTION_KEEP_WHILE_WANTED", "payment_reminders", "payment_reminder"),
    (
        "notifications.E038",
        "NOTIFICATIONS",
        "RETENTION_COUNT_BY_SUBJECT",
        "leads.leads",
        "leads.lead,leads.ctasubmission",
    ),
    ("notifications.W017", "NOTIFICATIONS", "MAX_ATEMPTS", "6", None),
    ("notifications.E044", "NOTIFICATIONS", "QUIET_HOURS", "21:00", "22:00-07:00"),
    ("notifications.E045", "NOTIFICATIONS", "MARKETING_HOURS", "10:00-25:00", "10:00-21:00"),
    ("notifications.E046", "NOTIFICATIONS", "DAILY_CAP", "three", "5"),
    ("notifications.E047", "NOTIFICATIONS", "DIGEST_HOUR", "24", "7"),
    ("notifications.E039", "WHATSAPP_DAILY_UNIQUE_RECIPIENTS", None, "1k", "250"),
    ("notifications.E040", "WHATSAPP_PRICES", None, "utility=₹0.115", "utility=0.115,marketing=0.8631"),
    ("notifications.E041", "WHATSAPP_PROVIDER_FEE", None, "0,42", "0.42"),
    ("notifications.E042", "TWILIO_CONTENT_SIDS", None, "session_24h", f"session_24h={HX},session_24h:hi={HX}"),
    ("notifications.E042", "TWILIO_CONTENT_SIDS", None, "session_24h=MG123", f"session_24h={HX}"),
    ("notifications.E043", "META_WHATSAPP_TEMPLATES", None, "session_24h", "session_24h=session_reminder"),
    ("notifications.E043", "META_WHATSAPP_TEMPLATES", None, "session_24h=Session Reminder", "session_24h=reminder_2"),
    ("leads.E001", "WELCOME_CALL", "working_days", "1-5", "1,2,3,4,5,6"),
    ("leads.E001", "WELCOME_CALL", "working_days", "0,8", "7"),
    ("leads.E001", "WELCOME_CALL", "working_days", "", "1"),
    ("leads.E002", "WELCOME_CALL", "first_slot", "10am", "09:30"),
    ("leads.E003", "WELCOME_CALL", "last_slot", "5:30pm", "18:00"),
    ("leads.E003", "WELCOME_CALL", "last_slot", "09:00", "10:00"),  # before the first slot, 10:00
    ("leads.E004", "WELCOME_CALL", "minutes", "30m", "45"),
    ("leads.E005", "LEAD_OFFER", "discount_percent", "150", "25"),
    ("leads.E006", "LEAD_OFFER", "resources", 5, "Interview kit,Mock test"),
    ("leads.E007", "LEAD_OFFER", "valid_days", "5d", "5"),
    ("leads.W001", "WELCOME_CALL", "last_slots", "17:00", None),
    ("lms.E001", "PAYMENT_REMINDER_DAYS", None, "3, 7, two weeks", "3, 7, 14"),
    ("lms.E001", "PAYMENT_REMINDER_DAYS", None, "0", "1"),
    ("lms.E002", "LIVE_NUDGE_MINUTES", None, "5", "15"),
    ("lms.E003", "PLANNING_FULL_SWEEP_MINUTES", None, "-1", "60"),
    ("automation.E003", "AUTOMATION_SCHEDULES", None, "payment_reminders", "payment_reminders=daily@09:30"),
    ("automation.E004", "AUTOMATION_JOB_LOG_RETENTION_DAYS", None, "30d", "30"),
    ("automation.E005", "AUTOMATION_TASK_RETENTION_DAYS", None, "-1", "14"),
    ("automation.E006", "AUTOMATION_SCHEDULER_STALL_SECONDS", None, "3m", "180"),
    ("automation.E007", "Q_CLUSTER", "timeout", "540s", 540),
    ("automation.E008", "AUTOMATION_WORKER_STALE_SECONDS", None, "3m", "180"),
    ("automation.E009", "AUTOMATION_METRICS_TOKEN", None, "short", "x" * 24),
    ("automation.E010", "AUTOMATION_SPARE_WORKERS", None, "one", "1"),
]


def with_value(setting: str, key: str | None, value) -> dict:
    """The override putting `value` in `setting` (in its `key`, the other keys as they are)."""
    if key is None:
        return {setting: value}
    return {setting: {**(getattr(settings, setting) or {}), key: value}}


def settings_messages() -> list[checks.CheckMessage]:
    return checks.run_checks(tags=["settings"])


@pytest.mark.parametrize(("check_id", "setting", "key", "bad", "good"), CASES)
def test_a_bad_setting_is_named_by_its_check_and_a_good_one_passes(check_id, setting, key, bad, good):
    with override_settings(**with_value(setting, key, bad)):
        found = [message for message in settings_messages() if message.id == check_id]
    assert len(found) == 1, settings_messages()
    variable = f"{PREFIXES[setting]}{key.upper()}" if key else setting
    assert variable in found[0].msg and repr(bad) in found[0].msg

    if good is None:  # a variable no setting reads: there is no good value, only no variable
        return
    with override_settings(**with_value(setting, key, good)):
        assert [message for message in settings_messages() if message.id == check_id] == []


def test_every_setting_a_conf_reads_has_a_case_above():
    declared = {
        setting.check_id
        for conf in (ThrottleConf, NotificationsConf, LeadsConf, LmsConf, AutomationConf)
        for setting in conf.declared()
    }
    declared |= {conf.unknown_id for conf in (ThrottleConf, NotificationsConf, LeadsConf) if conf.unknown_id}
    assert declared == {case[0] for case in CASES}


def test_the_shipped_defaults_pass_every_check():
    assert settings_messages() == []


def test_a_change_to_a_setting_is_read_at_once_and_forgotten_after(settings):
    assert notifications_conf.max_attempts == 6
    with override_settings(NOTIFICATIONS={"MAX_ATTEMPTS": "2"}):
        assert notifications_conf.max_attempts == 2
    assert notifications_conf.max_attempts == 6

    settings.RATE_LIMITS = {"cta_ip": "2/h"}
    assert str(throttle_conf.cta_ip) == "2/h" and str(throttle_conf.cta_address) == "3/d"  # the default


@override_settings(RATE_LIMITS={"cta_ip": "10/hour"})
def test_a_bad_value_read_at_run_time_says_which_variable_to_correct():
    with pytest.raises(ImproperlyConfigured, match=r"RATE_LIMIT_CTA_IP is '10/hour'"):
        rate_for("cta_ip")


def test_a_typo_in_the_environment_fails_manage_py_check_not_the_start(tmp_path):
    """Before, config/settings.py parsed these itself: int("six") stopped every command with a traceback."""
    environment = {
        **os.environ,
        "NOTIFICATIONS_MAX_ATTEMPTS": "six",
        "NOTIFICATIONS_PRIORITIES": "session_24h=first",
        "NOTIFICATIONS_DISPATCH_CONCURRENCY": "email:4",
        "PAYMENT_REMINDER_DAYS": "3,x",
        "WELCOME_CALL_WORKING_DAYS": "mon,tue",
        "WHATSAPP_PRICES": "utility",
        "AUTOMATION_SCHEDULES": "payments",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    for found in (
        "(notifications.E020) NOTIFICATIONS_MAX_ATTEMPTS is 'six'",
        "(notifications.E034) NOTIFICATIONS_PRIORITIES is 'session_24h=first'",
        "(notifications.E032) NOTIFICATIONS_DISPATCH_CONCURRENCY is 'email:4'",
        "(lms.E001) PAYMENT_REMINDER_DAYS is '3,x'",
        "(leads.E001) WELCOME_CALL_WORKING_DAYS is 'mon,tue'",
        "(notifications.E040) WHATSAPP_PRICES is 'utility'",
        "(automation.E003) AUTOMATION_SCHEDULES is 'payments'",
    ):
        assert found in done.stderr
