"""Twilio's incoming-message webhook for the WhatsApp sender: replies, STOP and START.

Set it as the sender's "A message comes in" URL (https://YOUR-HOST/webhooks/twilio/inbound/).
Every request must carry a valid X-Twilio-Signature; with no auth token configured, none does.
"""

from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..channels.whatsapp.twilio import signed_by_twilio
from ..rendering import absolute_url
from ..services.inbound import receive_whatsapp_message

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_inbound_message(request):
    """Keep a WhatsApp message sent to our number; the reply to a keyword goes through the ledger."""
    if not signed_by_twilio(request, url=absolute_url(request.get_full_path())):
        return HttpResponseForbidden("Invalid Twilio signature.")
    body = request.POST.get("Body", "") or request.POST.get("ButtonText", "")
    if not body and request.POST.get("NumMedia", "0") != "0":
        body = "[media]"
    receive_whatsapp_message(
        provider="twilio",
        provider_message_id=request.POST.get("MessageSid", ""),
        from_address=request.POST.get("From", "").removeprefix("whatsapp:"),
        text=body,
        # A template's quick-reply button ("Stop promotions"): its id, whatever its label says.
        button_payload=request.POST.get("ButtonPayload", ""),
        # With Advanced Opt-Out on its Messaging Service, Twilio names the keyword it matched
        # (its own list, or keywords added in the console): STOP or START.
        opt_out_type=request.POST.get("OptOutType", ""),
    )
    # An empty TwiML answer: Twilio sends nothing itself (the confirmation is ours, in the ledger).
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
