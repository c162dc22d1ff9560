"""What the Hindi guards share: the strings our student pages and messages use, and English left in a page."""

import html
import io
import re
from pathlib import Path

from babel.messages.extract import extract_python
from django.conf import settings
from django.utils.translation import trans_real
from django.utils.translation.template import templatize

BASE = Path(settings.BASE_DIR)
# Every page a student or a visitor sees (the admin is for staff, in English).
PAGE_TEMPLATES = [
    "templates/base.html",
    "templates/_field.html",
    "templates/throttled.html",
    *sorted(str(path.relative_to(BASE)) for path in (BASE / "templates/lms").rglob("*.html")),
    *sorted(str(path.relative_to(BASE)) for path in (BASE / "templates/notifications/pages").glob("*.html")),
    *sorted(str(path.relative_to(BASE)) for path in (BASE / "templates/notifications").glob("unsubscribe_*.html")),
    *sorted(str(path.relative_to(BASE)) for path in (BASE / "templates/registration").glob("*.html")),
    *sorted(str(path.relative_to(BASE)) for path in (BASE / "templates/leads").glob("cta*.html")),
]
# The Python behind those pages and messages: forms, views, flash messages, labels, words made at sending.
PAGE_MODULES = [
    "lms/views.py",
    "lms/account_views.py",
    "lms/forms.py",
    "lms/selectors.py",
    "lms/messages.py",
    "leads/forms.py",
    "notifications/views.py",
    "notifications/forms.py",
    "notifications/markers.py",
    "notifications/templatetags/notification_tags.py",
    "common/timezones.py",
    # Errors a student meets on those pages, and the words of a session's invitation.
    "common/phones.py",
    "lms/services.py",
    "lms/phones.py",
    "lms/calendar.py",
    "lms/models.py",
    "notifications/services/preferences.py",
]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
}


def _extract(code: str) -> set:
    # templatize() writes for xgettext, which ignores indentation; Python's tokenizer does not.
    code = "\n".join(line.lstrip() for line in code.splitlines())
    found = set()
    for _, function, message, _ in extract_python(io.BytesIO(code.encode()), KEYWORDS, (), {}):
        if not message:
            continue  # _(NAME): its literal is marked where NAME is defined (gettext_noop)
        if function.startswith("pgettext") and isinstance(message, tuple) and all(message[:2]):
            found.add(f"{message[0]}\x04{message[1]}")  # how the compiled catalogue keys a message with a context
            continue
        if isinstance(message, tuple):
            message = tuple(part for part in message if part)  # (context, msgid) from pgettext: msgid kept
        found.add(message if isinstance(message, str) or len(message) > 1 else message[0])
    return found


def used_msgids() -> dict:
    """Return {msgid (or (singular, plural)): where it is used} for the student pages' templates and Python."""
    used = {}
    for name in PAGE_TEMPLATES:
        for message in _extract(templatize((BASE / name).read_text(), origin=name)):
            used.setdefault(message, name)
    for name in PAGE_MODULES:
        for message in _extract((BASE / name).read_text()):
            used.setdefault(message, name)
    return used


def hindi_catalogue() -> dict:
    """Return the Hindi catalogue Django uses (ours from locale/, over Django's own), as compiled."""
    trans_real._translations = {}  # read the compiled .mo files as they are now
    return trans_real.translation("hi")._catalog


def untranslated(msgids) -> list:
    """Return the msgids with no Hindi (missing, or empty) in the compiled catalogue."""
    catalogue = hindi_catalogue()
    missing = []
    for message in msgids:
        if isinstance(message, tuple):
            translations = [catalogue.get((message[0], index)) for index in (0, 1)]
        else:
            translations = [catalogue.get(message)]
        if not all(translations):
            missing.append(message)
    return sorted(missing, key=str)


# English words a Hindi page may show: names of things (brands, zones, units) and what people typed.
ALLOWED = {"whatsapp", "google", "coursehub", "ist", "utc", "gmt", "am", "pm", "mb", "stop", "start"}
ALLOWED |= {"english", "hindi"}  # the language list names each language in its own words too
TAG = re.compile(r"<(script|style)\b.*?</\1>|<!--.*?-->", re.S)
ATTRIBUTES = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"]*)"')
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


def visible_text(page: str) -> str:
    """Return what a reader sees or hears of an HTML page: its text and its labelling attributes."""
    page = TAG.sub(" ", page)
    body = page[page.find("<body") :] if "<body" in page else page
    head_title = re.search(r"<title>(.*?)</title>", page, re.S)
    # A time zone list names every place on earth: the test of the time zones says which are Hindi.
    body = re.sub(r"<option\b[^>]*>[^<]*</option>", " ", body)
    labels = " ".join(ATTRIBUTES.findall(body))
    text = re.sub(r"<[^>]+>", " ", body)
    return html.unescape(" ".join([head_title.group(1) if head_title else "", text, labels]))


def english_words(page: str, *, data: tuple[str, ...] = ()) -> list[str]:
    """Return the English words of a page meant to be Hindi, beside `data` (names, titles, addresses
    it shows as they were typed) and the ALLOWED names."""
    text = re.sub(r"\S+@\S+|https?://\S+|\+\d[\d ]+", " ", visible_text(page))
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return [word for word in WORD.findall(text) if word.lower() not in ALLOWED]


def build_student_world(*, language: str = "hi", name: str = "Sunita Rao") -> dict:
    """Make a student with a bit of everything a student page shows: a class starting in 10 minutes
    and one tomorrow, a recording, assignments open, submitted and overdue, a pending fee, WhatsApp
    consent on record, and the in-app notifications their reminders leave."""
    import datetime as dt

    from django.utils import timezone

    from lms import reminders
    from lms.tests.factories import (
        AssignmentFactory,
        CourseFactory,
        EnrollmentFactory,
        LiveSessionFactory,
        PaymentFactory,
        RecordingFactory,
        SubmissionFactory,
        UserFactory,
    )
    from notifications.models import WhatsAppConsent
    from notifications.services.consent import record_whatsapp_consent

    now = timezone.now().replace(microsecond=0)
    student = UserFactory(language=language, name=name, opted_in=True)
    course = CourseFactory(title="Python for Data Analysis", description="Live weekend classes.")
    EnrollmentFactory(student=student, course=course)
    soon = LiveSessionFactory(course=course, title="Pandas Live", scheduled_at=now + dt.timedelta(minutes=10))
    tomorrow = LiveSessionFactory(course=course, title="Plotting", scheduled_at=now + dt.timedelta(hours=20))
    recording = RecordingFactory(
        session__course=course, session__title="Intro Recap", published_at=now - dt.timedelta(minutes=5)
    )
    open_assignment = AssignmentFactory(course=course, title="Clean the Sales Dataset", description="Load sales.csv.")
    submitted = SubmissionFactory(
        student=student, assignment__course=course, assignment__title="Week 1 Quiz", assignment__description=""
    ).assignment
    AssignmentFactory(course=course, title="Old Homework", description="", deadline=now - dt.timedelta(days=2))
    payment = PaymentFactory(student=student, course=course, created_at=now - dt.timedelta(days=4))
    record_whatsapp_consent(
        address=student.phone,
        category=WhatsAppConsent.Category.UTILITY,
        given=True,
        source="CTA form (submission 3 of 01 Dec 2026)",
        user=student,
    )
    for plan in (
        reminders.plan_session_reminders_15min,
        reminders.plan_session_reminders_24h,
        reminders.plan_recording_notifications,
        reminders.plan_assignment_reminders,
        reminders.plan_payment_reminders,
    ):
        plan(now=now)
    return {
        "now": now,
        "student": student,
        "course": course,
        "soon": soon,
        "tomorrow": tomorrow,
        "recording": recording,
        "open_assignment": open_assignment,
        "submitted": submitted,
        "payment": payment,
        # What the pages show as it was typed: names, titles, descriptions.
        "data": (
            name,
            name.split()[0],
            course.title,
            course.description,
            soon.title,
            tomorrow.title,
            recording.session.title,
            open_assignment.title,
            open_assignment.description,
            submitted.title,
            "Old Homework",
            payment.description,
            "Notebook:",
            "sales.csv",
        ),
    }
