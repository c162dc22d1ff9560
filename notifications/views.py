from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .forms import PreferencesForm
from .models import Notification
from .services.inapp import get_notifications_page, mark_all_notifications_read, open_notification
from .services.preferences import get_preferences, update_preferences
from .services.unsubscribe import resolve_unsubscribe_token, unsubscribe


@csrf_exempt  # mail clients POST "List-Unsubscribe=One-Click" with no CSRF token (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token):
    """GET shows a confirm button (link scanners must not unsubscribe); POST unsubscribes, 200."""
    try:
        target = resolve_unsubscribe_token(token=token)
    except signing.BadSignature:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        unsubscribe(target=target, source="one-click" if one_click else "unsubscribe page")
        return render(request, "notifications/unsubscribe_done.html", {"address": target.address})
    return render(request, "notifications/unsubscribe_confirm.html", {"address": target.address, "token": token})


@login_required
def notification_list(request):
    """The signed-in person's notifications, newest first, a page at a time."""
    page = get_notifications_page(
        user=request.user, older=request.GET.get("older", ""), newer=request.GET.get("newer", "")
    )
    return render(request, "notifications/pages/list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def notification_open(request, pk):
    """Mark one of the person's notifications read and follow its link (404 for anyone else's).

    Only a POST changes anything, so a link prefetcher or another site cannot mark things read; a
    GET (the address typed or shared, the page a login returns to) shows the notification with a
    button that opens it.
    """
    if request.method == "GET":
        notification = get_object_or_404(Notification, pk=pk, user=request.user)
        return render(request, "notifications/pages/open.html", {"notification": notification})
    try:
        target = open_notification(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    if urlsplit(target).netloc:
        # Another site (the meeting, the recording): browsers refuse a form's redirect there under
        # the CSP's form-action 'self', so a page of ours opens it as a new navigation.
        return render(request, "notifications/pages/leaving.html", {"target": target, "host": urlsplit(target).netloc})
    return redirect(target or "notifications:list")


@login_required
@require_POST
def notification_mark_all_read(request):
    """Mark every notification of the person read."""
    count = mark_all_notifications_read(user=request.user)
    if count:
        messages.success(
            request,
            ngettext("Marked %(count)d notification as read.", "Marked %(count)d notifications as read.", count)
            % {"count": count},
        )
    return redirect("notifications:list")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """Choose which messages arrive on which channel, WhatsApp consent and phone, time zone."""
    current = get_preferences(user=request.user)
    form = PreferencesForm(
        request.POST or None,
        receive=current.receive,
        initial={
            "whatsapp_opt_in": current.whatsapp_opt_in,
            "whatsapp_marketing_opt_in": current.whatsapp_marketing_opt_in,
            "phone": current.phone,
            "timezone": current.timezone,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_preferences(
                user=request.user,
                receive=form.receive(),
                whatsapp_opt_in=form.cleaned_data["whatsapp_opt_in"],
                whatsapp_marketing_opt_in=form.cleaned_data["whatsapp_marketing_opt_in"],
                phone=form.cleaned_data["phone"],
                timezone=form.cleaned_data["timezone"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, gettext("Your preferences are saved."))
            return redirect("notifications:preferences")
    return render(request, "notifications/pages/preferences.html", {"form": form, "preferences": current})
