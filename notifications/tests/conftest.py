import pytest
from django.contrib.auth import get_user_model

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
