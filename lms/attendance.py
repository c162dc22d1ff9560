"""
Who came to a live session: the tracked join link, and the meeting tool's participants export.

Every join link a message carries is a signed door (lms.session_links, lms.session_views): used
between 30 minutes before the start and the end of the session, it records the join and sends the
student on to the meeting. Staff may also upload the participants export of Zoom or Google Meet
(CSV) on the session's admin page: each row is read on its own, matched by email to an enrolled
student, and what could not be used is listed with its line and reason.

The recording's tracked link (in "You missed it") records that a student opened it.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from .models import Enrollment, LiveSession, RecordingOpen, SessionAttendance, User
from .session_links import join_window

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
# The column holding a participant's email, by its heading (lower case): Zoom, Google Meet, others.
EMAIL_HEADINGS = ("user email", "email", "email address", "attendee email", "participant email")
# The column holding when they joined, if any.
JOINED_HEADINGS = ("join time", "time joined", "first seen", "joined at", "join time (utc)")
JOIN_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def join_state(session: LiveSession, *, now: dt.datetime) -> str:
    """ "early", "open" or "closed": whether a join link works now."""
    if session.is_cancelled:
        return "closed"
    opens, closes = join_window(session)
    if now < opens:
        return "early"
    return "open" if now <= closes else "closed"


def is_enrolled(*, session: LiveSession, student: User) -> bool:
    return Enrollment.objects.filter(course_id=session.course_id, student=student, is_active=True).exists()


def record_join(
    *, session: LiveSession, student: User, source: str = SessionAttendance.Source.LINK, now: dt.datetime | None = None
) -> SessionAttendance:
    """Record that `student` joined `session` (the first join counts)."""
    attendance, _created = SessionAttendance.objects.get_or_create(
        session=session, student=student, defaults={"source": source, "joined_at": now or timezone.now()}
    )
    return attendance


def record_recording_open(*, session: LiveSession, student: User, now: dt.datetime | None = None) -> None:
    RecordingOpen.objects.get_or_create(session=session, student=student, defaults={"opened_at": now or timezone.now()})


@dataclass
class ImportResult:
    marked: int = 0  # newly marked as present
    already: int = 0  # marked before (by the link or an earlier upload)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def summary(self) -> str:
        text = f"{self.marked} marked present, {self.already} already were"
        return f"{text}; {len(self.problems)} row(s) not used" if self.problems else text


def _header(rows: list[list[str]]) -> tuple[int, int, int | None] | None:
    """The header row's index, its email column and its join-time column. Zoom puts the meeting's
    details (with the host's "User Email") above the participants: a row naming a join time too wins."""
    found = []
    for index, row in enumerate(rows[:50]):
        headings = [cell.strip().lower().lstrip("\ufeff") for cell in row]
        email = next((i for i, h in enumerate(headings) if h in EMAIL_HEADINGS), None)
        if email is not None:
            joined = next((i for i, h in enumerate(headings) if h in JOINED_HEADINGS), None)
            found.append((joined is None, index, email, joined))
    if not found:
        return None
    _no_join_time, index, email, joined = min(found)
    return index, email, joined


def _join_time(text: str, session: LiveSession) -> dt.datetime:
    for fmt in JOIN_TIME_FORMATS:
        try:
            moment = dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return timezone.make_aware(moment, dt.UTC) if timezone.is_naive(moment) else moment
    return session.scheduled_at


def read_participants(upload) -> list[list[str]]:
    """The rows of an uploaded CSV; ValidationError when it is too big or not text."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    raw = upload.read(MAX_UPLOAD_BYTES + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ValidationError("The file is not text (CSV in UTF-8).") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ValidationError(f"The file is not CSV: {exc}.") from None
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"The file has more than {MAX_ROWS} rows.")
    return rows


@transaction.atomic
def import_participants(*, session: LiveSession, rows: list[list[str]]) -> ImportResult:
    """Mark the enrolled students a participants export lists as present; each row on its own."""
    found = _header(rows)
    if found is None:
        raise ValidationError("No email column: export the participants with their emails (Zoom: “User Email”).")
    start, email_column, joined_column = found
    enrolled = {
        email.lower(): pk
        for pk, email in Enrollment.objects.filter(course_id=session.course_id, is_active=True).values_list(
            "student_id", "student__email"
        )
    }
    result, seen = ImportResult(), set()
    already = set(SessionAttendance.objects.filter(session=session).values_list("student_id", flat=True))
    for line, row in enumerate(rows[start + 1 :], start=start + 2):
        if not any(cell.strip() for cell in row):
            continue
        email = row[email_column].strip().lower() if email_column < len(row) else ""
        try:
            validate_email(email)
        except ValidationError:
            result.problems.append((line, f"no valid email ({email[:60] or 'empty'})"))
            continue
        student_id = enrolled.get(email)
        if student_id is None:
            result.problems.append((line, f"{email}: no student enrolled in this course"))
            continue
        if student_id in seen:
            continue  # a participant who left and came back: one row each time
        seen.add(student_id)
        if student_id in already:
            result.already += 1
            continue
        joined = (
            _join_time(row[joined_column], session)
            if joined_column is not None and joined_column < len(row)
            else session.scheduled_at
        )
        SessionAttendance.objects.create(
            session=session, student_id=student_id, source=SessionAttendance.Source.UPLOAD, joined_at=joined
        )
        result.marked += 1
    return result
