from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from common.throttle import allow_all

from .forms import PhoneCodeForm, ProfileForm, SubmissionForm
from .models import Assignment
from .phones import cancel_phone_code, confirm_phone_code, needs_code, pending_phone, request_phone_code
from .selectors import get_student_assignment, student_courses, student_dashboard
from .services import submit_assignment, update_profile


@login_required
def dashboard(request):
    """The student's home: sessions, recordings, assignments and payments."""
    context = student_dashboard(student=request.user, now=timezone.now())
    return render(request, "lms/dashboard.html", context)


@login_required
def my_courses(request):
    """The student's courses, each with its next session, recordings and assignments."""
    courses = student_courses(student=request.user, now=timezone.now())
    return render(request, "lms/courses.html", {"courses": courses})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The student's name, phone, time zone, language and WhatsApp consent."""
    user = request.user
    pending = pending_phone(user=user)  # the form shows the number waiting for its code, and its choice
    form = ProfileForm(
        request.POST or None,
        initial={
            "name": user.name,
            "phone": pending.phone if pending else user.phone,
            "whatsapp_opt_in": pending.whatsapp_opt_in if pending else user.whatsapp_opt_in,
            "timezone": user.timezone,
            "language": user.language,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if needs_code(user=user, phone=data["phone"]) and not _may_send_code(user, data["phone"]):
            form.add_error("phone", _("We sent this number too many codes. Try again in an hour."))
        else:
            try:
                update_profile(
                    user=user,
                    name=data["name"],
                    phone=data["phone"],
                    time_zone=data["timezone"],
                    language=data["language"],
                    whatsapp_opt_in=data["whatsapp_opt_in"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                # A new number: the card above the form asks for the code sent to it (lms/_phone_code.html).
                # The message in the language just chosen: the next page is in it.
                with translation.override(user.language if user.language in dict(settings.LANGUAGES) else None):
                    messages.success(request, _("Your profile is saved."))
                return redirect("lms:profile")
    return render(request, "lms/profile.html", {"form": form, "pending_phone": pending, "code_form": PhoneCodeForm()})


def _may_send_code(user, phone: str) -> bool:
    """The door that sends codes: limited per account and per number typed."""
    return allow_all([("phone_code_account", str(user.pk)), ("phone_code_number", phone)])


@login_required
@require_POST
def phone_code(request):
    """Enter the code sent to a new number (it joins the account), ask for a new code, or cancel."""
    user = request.user
    action = request.POST.get("action", "verify")
    pending = pending_phone(user=user)
    if action == "cancel":
        cancel_phone_code(user=user)
        messages.info(request, _("The new number is cancelled. Your profile keeps the number it had."))
    elif pending is not None and action == "resend":
        if _may_send_code(user, pending.phone):
            request_phone_code(user=user, phone=pending.phone, whatsapp_opt_in=pending.whatsapp_opt_in)
            messages.info(request, _("We sent a new code to %(phone)s.") % {"phone": pending.phone})
        else:
            messages.error(request, _("We sent this number too many codes. Try again in an hour."))
    elif action == "verify":
        check = confirm_phone_code(user=user, code=request.POST.get("code", ""))
        if check.error:
            messages.error(request, check.error)
        else:
            messages.success(request, _("Your number %(phone)s is verified.") % {"phone": check.proved})
    return redirect("lms:profile")


@login_required
@require_http_methods(["GET", "POST"])
def assignment_detail(request, pk):
    """An assignment with its submission form (only for students of its course)."""
    try:
        assignment = get_student_assignment(student=request.user, assignment_id=pk, now=timezone.now())
    except Assignment.DoesNotExist:
        raise Http404("No such assignment in your courses.") from None
    form = SubmissionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            submit_assignment(assignment=assignment, student=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Submitted “%(title)s”. Well done!") % {"title": assignment.title})
            return redirect("lms:dashboard")
    return render(request, "lms/assignment.html", {"assignment": assignment, "form": form})
