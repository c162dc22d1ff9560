"""
Login throttling glue for django-axes: who counts as the same username, and the page a locked-out login gets.

The settings (config/settings.py, "Login throttling") say how many failures lock a username for one
client address, and for how long; staff lift a lockout by deleting its access attempt in the admin.
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.forms.utils import ErrorDict
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.crypto import constant_time_compare


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuse a locked-out username and address before any password is checked (django-axes).

    Axes refuses outright a call without a request; such calls come from our own code (a command,
    the shell, the test client's login()), never from a login page, so they pass to the next backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def login_username(request, credentials) -> str:
    """Return the username a login attempt counts against: the email as typed, trimmed and lower-cased."""
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email")
    if value is None and request is not None:
        value = request.POST.get("username", "")
    return str(value or "").strip().lower()


def lockout_message() -> str:
    """Return the sentence a locked-out login shows."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed attempts to log in to this account from your network: logging in is locked "
        f"for {minutes} minutes after the last attempt, even with the right password. "
        "Try again later, reset your password, or ask the school's staff to lift the lock."
    )


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """Show the login page again (student or admin) with the lockout message, status 429."""
    context = getattr(original_response, "context_data", None) or {}
    form = context.get("form")
    template = getattr(original_response, "template_name", None)
    if form is None or not template:
        return HttpResponse(lockout_message(), status=429, content_type="text/plain; charset=utf-8")
    # The form says "wrong email or password", which is not why this attempt failed.
    form._errors = ErrorDict()
    form.add_error(None, lockout_message())
    response = TemplateResponse(request, template, context, status=429)
    # Axes' middleware answers after the handler has rendered responses: render this one now.
    return response.render()


def proxy_vouched(request) -> bool:
    """Whether the request carries the trusted proxy's secret header (always, when no secret is set)."""
    secrets = settings.TRUSTED_PROXY_SECRETS
    if not secrets:
        return True  # the operator states the app is reachable only through the proxy (check_trusted_proxies)
    sent = request.headers.get(settings.TRUSTED_PROXY_SECRET_HEADER, "")
    return any(constant_time_compare(sent, secret) for secret in secrets)


def client_ip_address(request) -> str | None:
    """Return the client's address for the login lock and the rate limits (AXES_CLIENT_IP_CALLABLE).

    X-Forwarded-For, as the last trusted proxy appended it, only on requests the proxy vouched for; on
    any other request (a client that reached the app directly, writing the header itself) the
    connection's address, so a forged header cannot spread guesses over addresses of its choosing.
    """
    from ipware.ip import get_client_ip  # as axes calls it (its own dependency), once apps are ready

    remote = request.META.get("REMOTE_ADDR")
    if not proxy_vouched(request):
        return remote
    address, _ = get_client_ip(
        request,
        proxy_order=settings.AXES_IPWARE_PROXY_ORDER,
        proxy_count=settings.AXES_IPWARE_PROXY_COUNT,
        proxy_trusted_ips=settings.AXES_IPWARE_PROXY_TRUSTED_IPS,
        request_header_order=settings.AXES_IPWARE_META_PRECEDENCE_ORDER,
    )
    return address or remote
