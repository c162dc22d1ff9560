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

from common.throttle import allow, client_ip

from .accounts import TokenState, request_set_password_link, set_password_tokens, token_from_link
from .models import User

# As Django's PasswordResetConfirmView: the token moves into the session at once, so it never stays in
# the address bar, the browser history or a Referer header. Links sent now carry it in the fragment,
# which no request line holds (set_password_start_view); links in the old form (token in the path) work
# until they expire.
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
    with translation.override(_language_of(user)):
        form = SetPasswordForm(user, request.POST or None)
        if request.method == "POST" and form.is_valid():
            form.save()
            del request.session[SESSION_TOKEN_KEY]
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
        return render(request, "lms/accounts/set_password.html", {"form": form, "user_email": user.email})


class OpenLinkForm(forms.Form):
    link = forms.CharField(
        label=_("The link from your email"),
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"}),
    )


@sensitive_post_parameters("link")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def set_password_start_view(request, uidb64: str):
    """The emailed link's page. Its token is the link's fragment, so no request line carries it: the
    page's static script posts it here (no inline script, under the CSP); without scripts the person
    pastes the link. The token then moves into the session, as with set_password_view."""
    user = _user_from(uidb64)
    with translation.override(_language_of(user)):
        form = OpenLinkForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            token = token_from_link(form.cleaned_data["link"])
            if token:
                request.session[SESSION_TOKEN_KEY] = token
                return redirect(reverse("set_password", args=[uidb64, TOKEN_IN_SESSION]))
            form.add_error("link", _("That is not the link from your email. Copy the whole link and paste it again."))
        return render(request, "lms/accounts/open_link.html", {"form": form}, status=400 if form.errors else 200)


def _language_of(user: User | None) -> str:
    """The link is the person's own: its pages speak their language, as the email that carried it did."""
    if user is not None and user.language in dict(settings.LANGUAGES):
        return user.language
    return translation.get_language()


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
