"""The preferences page's attention settings (quiet hours, the digest's hour): their own form, so
the page's main form stays as it is."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from .attention_forms import AttentionForm


@login_required
@require_http_methods(["GET", "POST"])
def attention_preferences(request):
    """GET shows the form alone; POST saves it and goes back to the preferences page."""
    form = AttentionForm.for_user(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        form.save(request.user)
        messages.success(request, gettext("Your quiet hours and digest hour are saved."))
        return redirect("notifications:preferences")
    return render(request, "notifications/pages/attention.html", {"attention_form": form})
