"""Pages of the set-password link: choose a password, or ask for a new link."""

from django import forms
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .accounts import TokenState, send_new_set_password_link, set_password_tokens
from .models import User


class NewLinkForm(forms.Form):
    email = forms.EmailField(label="Your email address")


def _user_from(uidb64: str) -> User | None:
    try:
        return User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)), is_active=True)
    except (TypeError, ValueError, OverflowError, User.DoesNotExist):
        return None


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def set_password_view(request, uidb64: str, token: str):
    """Choose a password with the link from the welcome email; then land on the dashboard."""
    user = _user_from(uidb64)
    state = set_password_tokens.state(user, token) if user else TokenState.INVALID
    if state is not TokenState.VALID:
        return render(
            request, "lms/accounts/link_invalid.html", {"expired": state is TokenState.EXPIRED, "form": NewLinkForm()}
        )
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")
    return render(request, "lms/accounts/set_password.html", {"form": form, "user_email": user.email})


@require_http_methods(["POST"])
def new_link_view(request):
    """Send a new set-password link; the answer is the same whether or not the address is known."""
    form = NewLinkForm(request.POST)
    if form.is_valid():
        send_new_set_password_link(email=form.cleaned_data["email"])
        return render(request, "lms/accounts/link_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "lms/accounts/link_invalid.html", {"expired": True, "form": form})


@require_http_methods(["GET", "POST"])
def password_reset_view(request):
    """Forgot your password: email a set-password link through the message ledger (one door)."""
    form = NewLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        send_new_set_password_link(email=form.cleaned_data["email"])
        return redirect("password_reset_done")
    return render(request, "registration/password_reset_form.html", {"form": form})
