from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from .forms import ProfileForm, SubmissionForm
from .models import Assignment
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
    form = ProfileForm(
        request.POST or None,
        initial={
            "name": user.name,
            "phone": user.phone,
            "whatsapp_opt_in": user.whatsapp_opt_in,
            "timezone": user.timezone,
            "language": user.language,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
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
            # In the language just chosen: the next page is in it.
            with translation.override(user.language if user.language in dict(settings.LANGUAGES) else None):
                messages.success(request, gettext("Your profile is saved."))
            return redirect("lms:profile")
    return render(request, "lms/profile.html", {"form": form})


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
            messages.success(request, gettext("Submitted “%(title)s”. Well done!") % {"title": assignment.title})
            return redirect("lms:dashboard")
    return render(request, "lms/assignment.html", {"assignment": assignment, "form": form})
