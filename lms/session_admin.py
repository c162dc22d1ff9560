"""A live session's admin page: its figures, who answered what, and the participants upload."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.admin import ReadOnlyAdminMixin

from .attendance import MAX_UPLOAD_BYTES, import_participants, read_participants
from .models import Enrollment, LiveSession, RecordingOpen, SessionAttendance, SessionRsvp
from .session_figures import session_figures

LISTED = 300  # students listed with their answer on the page


class ParticipantsForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Participants export (CSV)"),
        help_text=format_lazy(
            gettext_lazy("Zoom's or Google Meet's participants list, with emails; up to {megabytes} MB."),
            megabytes=MAX_UPLOAD_BYTES // 1_048_576,
        ),
    )


def answers_table(session: LiveSession) -> list[tuple[str, str, str]]:
    """(student, answer, joined) for the session's enrolled students, those who answered first."""
    answers = dict(SessionRsvp.objects.filter(session=session).values_list("student_id", "answer"))
    labels = dict(SessionRsvp.Answer.choices)
    joined = dict(SessionAttendance.objects.filter(session=session).values_list("student_id", "source"))
    no_answer = _("no answer")
    rows = []
    enrolled = Enrollment.objects.filter(course_id=session.course_id, is_active=True).select_related("student")
    for enrollment in enrolled.order_by("student__email")[:LISTED]:
        student = enrollment.student
        answer = str(labels[answers[student.pk]]) if student.pk in answers else no_answer
        came = {"link": _("yes (join link)"), "upload": _("yes (participants export)")}.get(
            joined.get(student.pk), _("no")
        )
        rows.append((str(student), answer, came))
    return sorted(rows, key=lambda row: row[1] == no_answer)


class SessionPageMixin:
    """Mixed into LiveSessionAdmin (lms.admin)."""

    change_form_template = "admin/lms/livesession/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:pk>/participants/",
                self.admin_site.admin_view(self.participants_view),
                name="lms_livesession_participants",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        session = LiveSession.objects.filter(pk=object_id).first()
        if session is not None:
            extra_context = {
                **(extra_context or {}),
                "figures": session_figures(session).rows(),
                "answers": answers_table(session),
                "participants_form": ParticipantsForm() if self.has_change_permission(request, session) else None,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def participants_view(self, request, pk: int):
        """Mark attendance from an uploaded participants export (POST, staff who may change sessions)."""
        session = get_object_or_404(LiveSession, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, session):
            raise PermissionDenied
        form = ParticipantsForm(request.POST, request.FILES)
        back = redirect(reverse("admin:lms_livesession_change", args=[pk]))
        if not form.is_valid():
            messages.error(request, _("Choose a CSV file to upload."))
            return back
        try:
            result = import_participants(session=session, rows=read_participants(form.cleaned_data["file"]))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return back
        messages.success(request, _("Participants: %(summary)s.") % {"summary": result.summary()})
        for line, reason in result.problems[:20]:
            messages.warning(request, _("Line %(line)s: %(reason)s") % {"line": line, "reason": reason})
        return back


@admin.register(SessionRsvp)
class SessionRsvpAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Students' answers to "Will you be there?" (lms.rsvp): written by their taps only."""

    list_display = ("session", "student", "answer", "via", "answered_at")
    list_filter = ("answer", "via", "session__course")
    list_select_related = ("session", "student")
    search_fields = ("student__email", "student__name", "session__title")
    date_hierarchy = "answered_at"


@admin.register(SessionAttendance)
class SessionAttendanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who joined which session: the tracked join link, or a participants export (the session's page)."""

    list_display = ("session", "student", "source", "joined_at")
    list_filter = ("source", "session__course")
    list_select_related = ("session", "student")
    search_fields = ("student__email", "student__name", "session__title")
    date_hierarchy = "joined_at"


@admin.register(RecordingOpen)
class RecordingOpenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Students who opened a session's recording through its tracked link."""

    list_display = ("session", "student", "opened_at")
    list_select_related = ("session", "student")
    search_fields = ("student__email", "student__name", "session__title")
