from django.conf import settings
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from common.throttle import allow, client_ip

from .forms import CTAForm
from .services import submit_cta


def form_language() -> str:
    """The language the form was shown in (the visitor's choice, or their browser's), as a shipped code."""
    language = translation.get_language() or ""
    shipped = {code for code, _ in settings.LANGUAGES}
    return next((code for code in (language, language.split("-")[0]) if code in shipped), "en")


@require_http_methods(["GET", "HEAD", "POST"])
def cta(request):
    """The public call-to-action form; a signed ?ref= ties it to the campaign lead."""
    form = CTAForm(request.POST or None, initial={"ref": request.GET.get("ref", "")})
    if request.method == "POST":
        if form.is_bot:
            return _thanks(request, name="")  # say nothing to bots
        if form.is_valid():
            if not allow("cta_ip", client_ip(request)):
                return render(request, "throttled.html", status=429)
            data = form.cleaned_data
            if not allow("cta_address", data["email"]):
                # The same answer as a stored one: the address's limit tells a stranger nothing.
                return _thanks(request, name=data["name"])
            submit_cta(
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                message=data["message"],
                whatsapp_opt_in=data["whatsapp_opt_in"],
                lead_ref=data["ref"],
                language=form_language(),
            )
            return _thanks(request, name=data["name"])
    return render(request, "leads/cta.html", {"form": form})


THANKS_NAME = "cta_thanks_name"


def _thanks(request, *, name: str):
    """After a POST, a redirect to the thank-you page: a refresh or a double click shows it again
    instead of sending the form twice."""
    request.session[THANKS_NAME] = name[:150]
    return redirect("leads:cta_thanks")


@require_http_methods(["GET", "HEAD"])
def cta_thanks(request):
    """The page after the CTA form (the name comes from this visitor's session, never the URL)."""
    return render(request, "leads/cta_thanks.html", {"name": request.session.get(THANKS_NAME, "")})
