"""Fixtures every test may use: a student, and fake providers (Postmark, Twilio, Meta) on 127.0.0.1."""

import pytest
from django.contrib.auth import get_user_model

from tests.fake_graph import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, FakeGraph
from tests.fakes import FakeProvider, postmark_ok, twilio_ok


@pytest.fixture
def student(db):
    return get_user_model().objects.create_user(
        email="asha@example.com",
        password=None,
        name="Asha Verma",
        phone="+919876543210",
        whatsapp_opt_in=True,
    )


@pytest.fixture
def postmark(settings):
    with FakeProvider(default=postmark_ok) as server:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-token", "POSTMARK_API_URL": server.url + "/"}
        yield server


@pytest.fixture
def twilio(settings):
    with FakeProvider(default=twilio_ok) as server:
        settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.twilio.WhatsAppBackend"
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "secret"
        settings.TWILIO_WHATSAPP_FROM = "+14155238886"
        settings.TWILIO_API_BASE_URL = server.url
        settings.TWILIO_CONTENT_SIDS = {"session_24h": "HX" + "a" * 32}
        settings.TWILIO_TIMEOUT = 2
        yield server


@pytest.fixture
def graph(settings):
    """WhatsApp through Meta's Cloud API, against a fake Graph API on 127.0.0.1."""
    with FakeGraph() as fake:
        settings.WHATSAPP_BACKEND = "notifications.channels.whatsapp.meta.WhatsAppBackend"
        settings.META_GRAPH_API_URL = fake.api_url
        settings.META_WHATSAPP_ACCESS_TOKEN = "EAAG-test-token"
        settings.META_WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
        settings.META_WHATSAPP_BUSINESS_ACCOUNT_ID = WABA_ID
        settings.META_WHATSAPP_APP_SECRET = APP_SECRET
        settings.META_WHATSAPP_VERIFY_TOKEN = "verify-me"
        settings.META_WHATSAPP_TEMPLATES = {"session_24h": "session_reminder_24h"}
        yield fake
