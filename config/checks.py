"""System checks for the site's own settings (registered by automation, the top app)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.http.request import validate_host


def check_site_url(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """In production, SITE_URL (the links in every message) is https and on a host this site answers."""
    if settings.IS_DEVELOPMENT:
        return []
    url = settings.SITE_URL
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return [
            checks.Error(
                f"SITE_URL is {url!r}: links in messages must be the site's https address in production.",
                hint="Set SITE_URL=https://your-host (no path), the address students open.",
                id="config.E001",
            )
        ]
    if not validate_host(parts.hostname, settings.ALLOWED_HOSTS):
        return [
            checks.Error(
                f"SITE_URL's host {parts.hostname!r} is not in ALLOWED_HOSTS: every link in every message "
                "would open a 400 page.",
                hint=f"Add {parts.hostname} to ALLOWED_HOSTS (comma-separated).",
                id="config.E002",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_mock_mode(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """In production, mock mode (messages written to files, nothing sent) is an error, not a warning."""
    if settings.IS_DEVELOPMENT or not settings.MOCK_MODE:
        return []
    return [
        checks.Error(
            "MOCK_MODE is on in production: every email and WhatsApp message is written to a file under "
            f"{settings.MAIL_DIR.parent} and reaches no one (reminders, set-password links, onboarding).",
            hint="Configure a provider (e.g. POSTMARK_SERVER_TOKEN; TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN) "
            "and leave MOCK_MODE unset or false.",
            id="config.E003",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_trusted_proxies(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Behind proxies, X-Forwarded-For counts only on requests that carry the proxy's secret header, or
    the operator states that the app cannot be reached without the proxy."""
    if not settings.TRUSTED_PROXY_COUNT or settings.TRUSTED_PROXY_SECRETS or settings.TRUSTED_PROXY_ONLY_WAY_IN:
        return []
    return [
        checks.Error(
            f"TRUSTED_PROXY_COUNT is {settings.TRUSTED_PROXY_COUNT} but TRUSTED_PROXY_SECRET is not set: a client "
            "that reaches the app without the proxy writes X-Forwarded-For itself and chooses the address the "
            "login lock and the rate limits count it under.",
            hint=f"Have the proxy set the header {settings.TRUSTED_PROXY_SECRET_HEADER}: <a long random secret> on "
            "every request and put the same secret in TRUSTED_PROXY_SECRET. If the app cannot be reached but "
            "through the proxy (a platform's router, a private network), say so: TRUSTED_PROXY_ONLY_WAY_IN=true.",
            id="config.E004",
        )
    ]
