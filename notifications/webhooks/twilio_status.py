"""Twilio's message status callbacks, verified with X-Twilio-Signature, into provider events."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..channels.whatsapp.twilio import ACCOUNT_CODES, SUPPRESS_CODES, TRANSIENT_CODES, signed_by_twilio
from ..models import Channel, Delivery
from ..rendering import absolute_url
from ..services.feedback import ProviderEvent, apply_provider_event

Status = Delivery.Status
STATUS_FOR = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.OPENED,
    "failed": Status.FAILED,
    "undelivered": Status.FAILED,
}


def _public_url(request) -> str:
    # Twilio signs the URL it was given (with its query: our delivery id), not the one Django
    # sees behind a proxy.
    base = (settings.TWILIO_STATUS_CALLBACK_URL or absolute_url(request.path)).split("?", 1)[0]
    query = request.META.get("QUERY_STRING", "")
    return f"{base}?{query}" if query else base


def _delivery_id(request) -> int | None:
    value = request.GET.get("delivery_id", "")
    return int(value) if value.isdigit() else None


@csrf_exempt
@require_POST
def twilio_status_callback(request):
    """Record a WhatsApp message's status; forged or unsigned requests get 403."""
    if not signed_by_twilio(request, url=_public_url(request)):
        return HttpResponseForbidden("Invalid Twilio signature.")
    status = STATUS_FOR.get(request.POST.get("MessageStatus", ""))
    if status is None:
        return HttpResponse(status=200)  # queued, accepted, sending: nothing to record yet
    code = request.POST.get("ErrorCode", "")
    number = int(code) if code.isdigit() else None
    apply_provider_event(
        event=ProviderEvent(
            channel=Channel.WHATSAPP,
            status=status,
            # Signed with the URL: finds the row even before the worker recorded Twilio's id.
            delivery_id=_delivery_id(request),
            provider_message_id=request.POST.get("MessageSid", ""),
            detail=f"Twilio status {request.POST.get('MessageStatus')}" + (f", error {code}" if code else ""),
            error_code=code,
            suppress=number in SUPPRESS_CODES,
            # The same codes mean the same whichever way they come: an account that cannot send
            # pauses the channel, a throttled one retries; neither fails the message.
            account=status == Status.FAILED and number in ACCOUNT_CODES,
            transient=status == Status.FAILED and number in TRANSIENT_CODES,
            address=request.POST.get("To", "").removeprefix("whatsapp:"),
        )
    )
    return HttpResponse(status=200)
