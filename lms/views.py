from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .forms import SubmissionForm
from .models import Assignment
from .selectors import get_student_assignment, student_dashboard
from .services import submit_assignment


@login_required
def dashboard(request):
    """The student's home: sessions, recordings, assignments and payments."""
    context = student_dashboard(student=request.user, now=timezone.now())
    return render(request, "lms/dashboard.html", context)


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
            messages.success(request, f"Submitted “{assignment.title}”. Well done!")
            return redirect("lms:dashboard")
    return render(request, "lms/assignment.html", {"assignment": assignment, "form": form})
