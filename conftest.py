"""Test set-up shared by every app: real databases, local backends, a fixed site URL.

The test environment (DJANGO_ENV=test, mock mode, a cache of this process's own) is set by
config.settings_for_tests, which pytest.ini names: pytest-django reads the settings before this
file runs. Processes the tests start inherit it.
"""

import os

import pytest

from notifications.channels.whatsapp import outbox as whatsapp_outbox

# A real SMTP server (`smtp_mailbox`), a student and fake providers (`postmark`, `twilio`, `graph`).
pytest_plugins = ["tests.smtp", "tests.providers"]


@pytest.fixture(autouse=True)
def _local_backends(settings):
    """Email to django.core.mail.outbox, WhatsApp to notifications.channels.whatsapp.outbox."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.locmem.WhatsAppBackend"
    settings.SITE_URL = "https://school.example"
    settings.TWILIO_CONTENT_SIDS = {}
    whatsapp_outbox.clear()
    yield
    whatsapp_outbox.clear()


@pytest.fixture(autouse=True)
def _attention_budget(request, settings, monkeypatch):
    """The attention budget (quiet hours 21:00-08:00 local, the marketing window, the daily cap) holds
    messages by the hour of the day, and most tests dispatch at the real time: it is off, in this
    process and in those the test starts, except in the tests about it (a module named *attention*,
    or marked `attention`), which run with the defaults."""
    if "attention" in request.node.module.__name__ or request.node.get_closest_marker("attention"):
        yield
        return
    off = {"QUIET_HOURS": "", "MARKETING_HOURS": "", "DAILY_CAP": "0"}
    settings.NOTIFICATIONS = {**(settings.NOTIFICATIONS or {}), **off}
    for key, value in off.items():
        monkeypatch.setenv(f"NOTIFICATIONS_{key}", value)
    yield


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with an empty cache: rate-limit counters never leak from one test to the next."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Start every test in the site's language: a request by a Hindi reader through the test client
    leaves Hindi active in this thread (a real process starts each request and command afresh)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def whatsapp_sent():
    """The WhatsApp messages the locmem backend 'sent'."""
    return whatsapp_outbox


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on SQLite, except in CI, where they must run."""
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if on_postgres:
        return
    if os.environ.get("CI"):
        pytest.exit("CI must run the suite on PostgreSQL: set DATABASE_URL.", returncode=3)
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
