from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .forms import CTAForm
from .services import submit_cta


@require_http_methods(["GET", "POST"])
def cta(request):
    """The public call-to-action form; a signed ?ref= ties it to the campaign lead."""
    form = CTAForm(request.POST or None, initial={"ref": request.GET.get("ref", "")})
    if request.method == "POST":
        if form.is_bot:
            return render(request, "leads/cta_thanks.html")  # say nothing to bots
        if form.is_valid():
            data = form.cleaned_data
            submit_cta(
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                message=data["message"],
                whatsapp_opt_in=data["whatsapp_opt_in"],
                lead_ref=data["ref"],
            )
            return render(request, "leads/cta_thanks.html", {"name": data["name"]})
    return render(request, "leads/cta.html", {"form": form})
