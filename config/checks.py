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
