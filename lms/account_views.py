"""Pages of the set-password link: choose a password, or ask for a new link."""

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from notifications.throttle import allow, client_ip

from .accounts import TokenState, request_set_password_link, set_password_tokens
from .models import User

# As Django's PasswordResetConfirmView: the token moves from the URL into the session at once, so
# it never stays in the address bar, the browser history, a Referer header or an access log line.
TOKEN_IN_SESSION = "set-password"
SESSION_TOKEN_KEY = "_set_password_token"


class NewLinkForm(forms.Form):
    email = forms.EmailField(label=_("Your email address"))


def _user_from(uidb64: str) -> User | None:
    try:
        return User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)), is_active=True)
    except (TypeError, ValueError, OverflowError, User.DoesNotExist):
        return None


def too_many_requests(request):
    """The answer to a client over an anonymous door's limit: nothing was sent or stored."""
    return render(request, "throttled.html", status=429)


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def set_password_view(request, uidb64: str, token: str):
    """Choose a password with the link from the welcome email; then land on the dashboard."""
    if token != TOKEN_IN_SESSION:
        request.session[SESSION_TOKEN_KEY] = token
        return redirect(reverse("set_password", args=[uidb64, TOKEN_IN_SESSION]))
    token = request.session.get(SESSION_TOKEN_KEY, "")
    user = _user_from(uidb64)
    state = set_password_tokens.state(user, token) if user and token else TokenState.INVALID
    if state is not TokenState.VALID:
        return render(
            request, "lms/accounts/link_invalid.html", {"expired": state is TokenState.EXPIRED, "form": NewLinkForm()}
        )
    # The link is the person's own: the page speaks their language, as the email that carried it did.
    language = user.language if user.language in dict(settings.LANGUAGES) else translation.get_language()
    with translation.override(language):
        form = SetPasswordForm(user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            form.save()
            del request.session[SESSION_TOKEN_KEY]
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
        return render(request, "lms/accounts/set_password.html", {"form": form, "user_email": user.email})


def _request_link(request, email: str) -> bool:
    """Queue a set-password link within the door's limits; False when this client is over its limit."""
    if not allow("password_reset_ip", client_ip(request)):
        return False
    if allow("password_reset_address", email):
        request_set_password_link(email=email)
    # Over the address's limit the answer stays the same: it tells nothing about the account.
    return True


@require_http_methods(["POST"])
def new_link_view(request):
    """Send a new set-password link; the answer is the same whether or not the address is known."""
    form = NewLinkForm(request.POST)
    if form.is_valid():
        if not _request_link(request, form.cleaned_data["email"]):
            return too_many_requests(request)
        return render(request, "lms/accounts/link_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "lms/accounts/link_invalid.html", {"expired": True, "form": form})


@require_http_methods(["GET", "HEAD", "POST"])
def password_reset_view(request):
    """Forgot your password: queue a set-password link in the message ledger (one door)."""
    form = NewLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not _request_link(request, form.cleaned_data["email"]):
            return too_many_requests(request)
        return redirect("password_reset_done")
    return render(request, "registration/password_reset_form.html", {"form": form})
