from django.core import signing
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

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
