"""Test set-up shared by every app: real databases, local backends, a fixed site URL."""

import os

import pytest

os.environ.setdefault("DJANGO_ENV", "test")
os.environ.setdefault("MOCK_MODE", "true")

from notifications.channels.whatsapp import outbox as whatsapp_outbox


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
