"""
The doors a session's messages open: answer the RSVP, join the session, open the recording.

Each comes in two forms: a signed link from an email or a WhatsApp message (no login needed,
lms.session_links; rate-limited per client address), and a page for the signed-in student (the
in-app notification's link). GET only shows what a tap would do; POST records it (a mail scanner
that follows links records nothing), then the join and the recording go on to their address.
"""

from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from common.formatting import format_when
from common.throttle import allow, client_ip

from .attendance import is_enrolled, join_state, record_join, record_recording_open
from .models import LiveSession, Recording, SessionRsvp
from .rsvp import can_answer, record_rsvp
from .session_links import read_token

DOOR = "session_link_ip"


def _going_on_to(response, url: str):
    """Let this page's form go on to `url`'s site: the CSP's form-action ('self') also governs where
    the POST's redirect leads (the meeting, the recording), so that site is added for this page alone."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}
    return response


def _invalid(request, status: int = 404) -> HttpResponse:
    return render(request, "lms/sessions/link_invalid.html", status=status)


def _throttled(request) -> bool:
    return not allow(DOOR, client_ip(request))


def _from_token(request, purpose: str, token: str):
    if _throttled(request):
        return None, render(request, "lms/sessions/link_invalid.html", {"throttled": True}, status=429)
    link = read_token(purpose, token)
    if link is None or not is_enrolled(session=link.session, student=link.student):
        return None, _invalid(request)
    return link, None


def _mine(request, pk: int):
    session = get_object_or_404(LiveSession.objects.select_related("course"), pk=pk)
    if not is_enrolled(session=session, student=request.user):
        raise Http404("Not a session of your courses.")
    return session


def _when(session, student) -> str:
    return format_when(session.scheduled_at, tz=student.timezone, locale=student.locale)


def _rsvp(request, *, session, student, answer: str, via: str):
    now = timezone.now()
    current = SessionRsvp.objects.filter(session=session, student=student).first()
    context = {"session": session, "when": _when(session, student), "answer": answer, "current": current}
    if request.method == "POST":
        answer = request.POST.get("answer", answer)
        rsvp = record_rsvp(session=session, student=student, answer=answer, via=via, now=now)
        if rsvp is None:
            return render(request, "lms/sessions/rsvp.html", {**context, "closed": True}, status=409)
        return render(request, "lms/sessions/rsvp.html", {**context, "recorded": rsvp, "answer": rsvp.answer})
    if not can_answer(session=session, student=student, now=now):
        context["closed"] = True
    return render(request, "lms/sessions/rsvp.html", {**context, "answers": SessionRsvp.Answer.choices})


@require_http_methods(["GET", "POST"])
def rsvp_by_link(request, token: str, answer: str):
    """The one-tap answer from an email: GET asks to confirm, POST records."""
    if answer not in SessionRsvp.Answer.values:
        return _invalid(request)
    link, refused = _from_token(request, "rsvp", token)
    if refused:
        return refused
    return _rsvp(request, session=link.session, student=link.student, answer=answer, via="email")


@login_required
@require_http_methods(["GET", "POST"])
def rsvp_mine(request, pk: int):
    """The signed-in student's answer buttons (the in-app reminder's link)."""
    return _rsvp(request, session=_mine(request, pk), student=request.user, answer="", via="inapp")


def _join(request, *, session, student):
    now = timezone.now()
    state = join_state(session, now=now)
    context = {"session": session, "when": _when(session, student), "state": state}
    if state != "open":
        return render(request, "lms/sessions/join.html", context, status=200 if state == "early" else 410)
    if request.method == "POST":
        record_join(session=session, student=student, now=now)
        return redirect(session.meeting_url)
    return _going_on_to(render(request, "lms/sessions/join.html", context), session.meeting_url)


@require_http_methods(["GET", "POST"])
def join_by_link(request, token: str):
    """The tracked join link: from 30 minutes before the start to the end, record the join, then the meeting."""
    link, refused = _from_token(request, "join", token)
    if refused:
        return refused
    return _join(request, session=link.session, student=link.student)


@login_required
@require_http_methods(["GET", "POST"])
def join_mine(request, pk: int):
    return _join(request, session=_mine(request, pk), student=request.user)


def _watch(request, *, session, student):
    recording = Recording.objects.filter(session=session, visible_to_students=True).first()
    if recording is None:
        return _invalid(request)
    if request.method == "POST":
        record_recording_open(session=session, student=student)
        return redirect(recording.url)
    page = render(request, "lms/sessions/watch.html", {"session": session, "when": _when(session, student)})
    return _going_on_to(page, recording.url)


@require_http_methods(["GET", "POST"])
def watch_by_link(request, token: str):
    """The recording's tracked link ("You missed it"): record that it was opened, then the recording."""
    link, refused = _from_token(request, "watch", token)
    if refused:
        return refused
    return _watch(request, session=link.session, student=link.student)


@login_required
@require_http_methods(["GET", "POST"])
def watch_mine(request, pk: int):
    """The in-app "You missed it" notification's link, for the signed-in student."""
    return _watch(request, session=_mine(request, pk), student=request.user)
