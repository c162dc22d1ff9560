from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from .forms import SubmissionForm
from .models import Assignment
from .selectors import student_dashboard
from .services import submit_assignment


@login_required
def dashboard(request):
    """The student's home: sessions, recordings, assignments and payments."""
    context = student_dashboard(student=request.user, now=timezone.now())
    return render(request, "lms/dashboard.html", {**context, "now": timezone.now()})


@login_required
def assignment_detail(request, pk):
    """An assignment with its submission form (only for students of its course)."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("course"),
        pk=pk,
        course__enrollments__student=request.user,
        course__enrollments__is_active=True,
    )
    submission = assignment.submissions.filter(student=request.user).first()
    form = SubmissionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and submission is None and form.is_valid():
        try:
            submit_assignment(assignment=assignment, student=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Submitted “{assignment.title}”. Well done!")
            return redirect("lms:dashboard")
    return render(request, "lms/assignment.html", {"assignment": assignment, "submission": submission, "form": form})
