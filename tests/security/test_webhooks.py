"""Provider webhooks fail closed: forged bounces never reach the ledger, whatever is (not) configured."""

import base64
import json

import pytest
from django.core import checks
from django.test import Client
from twilio.request_validator import RequestValidator

from notifications.models import Delivery, Suppression
from notifications.services.dispatch import dispatch_due_deliveries
from notifications.tests.factories import UserFactory
from notifications.tests.helpers import NOW, plan_session_reminder

pytestmark = pytest.mark.django_db
POSTMARK = "/anymail/postmark/tracking/"
SECRET = "hooks:s3cret-webhook-pass"


@pytest.fixture
def email(db):
    student = UserFactory(email="asha@example.com", phone="+919876543210", whatsapp_opt_in=True)
    plan_session_reminder(student)
    dispatch_due_deliveries(now=NOW)
    return Delivery.objects.get(channel="email", recipient=student)


@pytest.fixture
def secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": [SECRET]}
    return SECRET


@pytest.fixture
def no_secret(settings):
    settings.ANYMAIL = {key: value for key, value in settings.ANYMAIL.items() if key != "WEBHOOK_SECRET"}


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def hard_bounce(delivery) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 7,
        "Type": "HardBounce",
        "MessageID": delivery.provider_message_id,
        "Email": delivery.to_address,
        "BouncedAt": "2026-11-24T10:02:00Z",
        "Details": "550 5.1.1 user unknown",
        "Metadata": {"delivery_id": str(delivery.pk)},
    }


def post(url, body, credentials=None, content_type="application/json"):
    headers = {"HTTP_AUTHORIZATION": basic(credentials)} if credentials else {}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    # A provider is a stranger: no session, no CSRF token.
    return Client(enforce_csrf_checks=True).post(url, data, content_type=content_type, **headers)


def assert_untouched(delivery):
    status = delivery.status
    delivery.refresh_from_db()
    assert delivery.status == status
    assert not Suppression.objects.exists()


def test_without_a_secret_a_forged_bounce_is_refused_and_suppresses_nobody(email, no_secret):
    response = post(POSTMARK, hard_bounce(email))
    assert response.status_code == 403
    assert "ANYMAIL_WEBHOOK_SECRET" in response.content.decode()
    # Credentials of any kind change nothing while no secret is set.
    assert post(POSTMARK, hard_bounce(email), credentials="anything:goes").status_code == 403
    assert_untouched(email)


@pytest.mark.parametrize("credentials", [None, "hooks:guess", SECRET + "x", "hooks"])
def test_a_bounce_without_the_right_credentials_is_refused(email, secret, credentials):
    response = post(POSTMARK, hard_bounce(email), credentials=credentials)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert_untouched(email)


def test_with_the_right_credentials_the_bounce_is_recorded(email, secret):
    assert post(POSTMARK, hard_bounce(email), credentials=secret).status_code == 200
    email.refresh_from_db()
    assert email.status == Delivery.Status.BOUNCED
    assert Suppression.objects.filter(address=email.to_address).exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b'{"RecordType": "Bounce", "Type": "HardBounce", "BouncedAt": 12, "Metadata": "x", "Email": ["a"]}',
    ],
    ids=["broken", "not-utf8", "empty", "list", "string", "null", "bounce-of-wrong-types"],
)
def test_a_malformed_body_with_valid_credentials_answers_400_not_500(email, secret, body):
    response = post(POSTMARK, body, credentials=secret)
    assert response.status_code == 400
    assert_untouched(email)


@pytest.mark.parametrize("esp", ["mailgun", "amazon_ses", "sendgrid", "brevo", "mandrill", "sparkpost"])
def test_only_the_configured_providers_webhook_is_mounted(email, secret, esp):
    for credentials in (None, secret):
        assert post(f"/anymail/{esp}/tracking/", {"event": "bounced"}, credentials=credentials).status_code == 404
    assert post(f"/anymail/{esp}/inbound/", {}, credentials=secret).status_code == 404
    assert_untouched(email)


def test_the_mounted_webhook_follows_the_configured_provider(email, secret, settings):
    settings.EMAIL_TRACKING_ESP = "brevo"
    assert post(POSTMARK, hard_bounce(email), credentials=secret).status_code == 404
    assert post("/anymail/brevo/tracking/", {"event": "hard_bounce"}).status_code == 401
    settings.EMAIL_TRACKING_ESP = ""
    assert post(POSTMARK, hard_bounce(email), credentials=secret).status_code == 404
    assert_untouched(email)


def deploy_errors():
    return {message.id for message in checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])}


def test_the_deploy_check_reports_a_configured_provider_without_a_secret(no_secret, settings):
    assert "notifications.E002" in deploy_errors()
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": [SECRET]}
    assert "notifications.E002" not in deploy_errors()
    settings.EMAIL_TRACKING_ESP = "postmrak"
    assert "notifications.E001" in deploy_errors()


def twilio_forgery(token: str) -> dict:
    params = {"MessageSid": "SM123", "MessageStatus": "failed", "ErrorCode": "21610", "To": "whatsapp:+919876543210"}
    url = "https://school.example/webhooks/twilio/status/"
    return {"data": params, "HTTP_X_TWILIO_SIGNATURE": RequestValidator(token).compute_signature(url, params)}


def test_twilio_callbacks_are_refused_while_no_auth_token_is_set(email, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_STATUS_CALLBACK_URL = ""
    whatsapp = Delivery.objects.get(channel="whatsapp")
    before = whatsapp.status
    # Signed with the empty token, as a forger would.
    forgery = twilio_forgery("")
    assert Client().post("/webhooks/twilio/status/", forgery.pop("data"), **forgery).status_code == 403
    whatsapp.refresh_from_db()
    assert whatsapp.status == before
    assert not Suppression.objects.exists()
