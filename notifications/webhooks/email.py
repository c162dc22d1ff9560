"""
The email provider's tracking webhook, failing closed: /anymail/<esp>/tracking/ for the one configured ESP.

anymail's own views accept anything when no webhook secret is set, and answer 500 to a body they
cannot read. In front of the configured provider's view this answers, instead:

- 404 for any other provider's address (only the configured provider is mounted);
- 403 to everything until `ANYMAIL_WEBHOOK_SECRET` is set;
- 401 to a POST without the right basic-auth credentials;
- 400 to a body that is not the provider's JSON, so a forged or broken request is never a 500.

Events that pass go to anymail's tracking signal, which `webhooks/email_tracking.py` applies to the
ledger. `manage.py check --deploy` reports a configured provider with no secret.
"""

import functools
import logging

from anymail import urls as anymail_urls
from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.conf import settings
from django.core import checks
from django.core.exceptions import BadRequest, ImproperlyConfigured
from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

# anymail's tracking views by the provider name in their address ("postmark/tracking/" -> "postmark").
TRACKING_VIEWS = {
    str(pattern.pattern).removesuffix("/tracking/"): pattern.callback.view_class
    for pattern in anymail_urls.urlpatterns
    if str(pattern.pattern).endswith("/tracking/")
}
# What a provider's parser raises on a body that is not its JSON (json.JSONDecodeError and
# UnicodeDecodeError are ValueErrors; the others come from a document of the wrong shape).
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def webhook_secrets() -> list[str]:
    """Return the accepted basic-auth "user:password" strings (several while rotating)."""
    secrets = get_anymail_setting("webhook_secret", default=[])
    if isinstance(secrets, str):
        secrets = [secrets]
    return [secret for secret in secrets if secret]


@functools.cache
def _fail_closed_view(esp: str):
    """Return anymail's tracking view for `esp`, answering 400 to a body it cannot parse."""
    base = TRACKING_VIEWS[esp]

    class FailClosedTrackingView(base):
        def parse_events(self, request):
            try:
                return super().parse_events(request)
            except MALFORMED as exc:
                raise BadRequest(f"Malformed {self.esp_name} tracking webhook: {type(exc).__name__}.") from exc

    FailClosedTrackingView.__name__ = f"FailClosed{base.__name__}"
    return FailClosedTrackingView.as_view()


def _refused(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="email tracking webhook"'
    return response


@csrf_exempt
def email_tracking_webhook(request, esp: str):
    """Pass a provider's delivery, bounce and complaint events to the ledger, only when they prove who sent them."""
    if esp != settings.EMAIL_TRACKING_ESP or esp not in TRACKING_VIEWS:
        raise Http404("No tracking webhook for this provider.")
    secrets = webhook_secrets()
    if not secrets:
        return _refused(403, "Tracking webhooks are refused until ANYMAIL_WEBHOOK_SECRET is set.")
    if request.method == "POST":
        sent = get_request_basic_auth(request) or ""
        if not any(constant_time_compare(sent, secret) for secret in secrets):
            return _refused(401, "Missing or wrong webhook credentials.")
    try:
        view = _fail_closed_view(esp)
        return view(request)
    except ImproperlyConfigured:  # anymail's configuration errors subclass it (a missing signing key)
        logger.exception("The %s tracking webhook is not configured; events are refused.", esp)
        return _refused(403, f"The {esp} tracking webhook is not fully configured.")


@checks.register(checks.Tags.security, deploy=True)
def check_tracking_webhook(app_configs=None, **kwargs):
    """A configured email provider needs a webhook secret, or its delivery events are refused."""
    esp = settings.EMAIL_TRACKING_ESP
    if not esp:
        return []
    if esp not in TRACKING_VIEWS:
        return [
            checks.Error(
                f"EMAIL_TRACKING_ESP is {esp!r}, which anymail has no tracking webhook for.",
                hint=f"Use one of: {', '.join(sorted(TRACKING_VIEWS))}.",
                id="notifications.E001",
            )
        ]
    if not webhook_secrets():
        return [
            checks.Error(
                f"The {esp} tracking webhook has no secret: it refuses every event, so bounces, complaints "
                "and deliveries are never recorded.",
                hint=f"Set ANYMAIL_WEBHOOK_SECRET=user:password and give the provider "
                f"https://user:password@YOUR-HOST/anymail/{esp}/tracking/.",
                id="notifications.E002",
            )
        ]
    return []
