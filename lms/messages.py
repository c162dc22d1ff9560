"""The message kinds lms sends (templates in templates/notifications/<name>/)."""

import datetime as dt

from django.conf import settings
from django.utils import translation
from django.utils.translation import ngettext_lazy

from common.formatting import format_when, reader_locale
from notifications.api import Category, Channel, Topic, day_marker, day_words, language_of
from notifications.kinds import CRITICAL, INAPP, MessageKind, register

from . import accounts, calendar, phones, rsvp, session_links, wanted

ALL = (Channel.EMAIL, Channel.WHATSAPP, INAPP)

SESSION_VARIABLES = {
    "title": "The session's title.",
    "course_title": "The course's title.",
    "when": "When it starts, in the student's time zone and language (e.g. Wed, 25 Nov 2026, 10:00 AM IST).",
    "day_label": "Today, Tomorrow or the weekday, capitalised (for a subject).",
    "day_phrase": "today, tomorrow or on Thursday (inside a sentence).",
    "minutes_left": "Minutes until it starts (a number).",
    "join_url": "The meeting link, through the student's tracked join link (made when sent).",
    "scheduled_at": "The start time in ISO 8601 (UTC), for machines.",
    "calendar_url": "An “add to Google Calendar” link (24-hour reminder and “New time” only).",
}
SESSION_SAMPLES = {
    "title": "Python Basics: Loops",
    "course_title": "Python for Beginners",
    "when": "Wed, 25 Nov 2026, 10:00 AM IST",
    "day_label": "Tomorrow",
    "day_phrase": "tomorrow",
    "minutes_left": 15,
    "join_url": "https://meet.example.com/abc-defg-hij",
    "scheduled_at": "2026-11-25T04:30:00+00:00",
    "calendar_url": "https://calendar.google.com/calendar/render?action=TEMPLATE&text=Python+Basics%3A+Loops",
}


def session_day_words(context: dict) -> dict:
    """Return `day_label` and `day_phrase` in the reader's language, from the day planning stored
    ("Tomorrow"/"tomorrow", "कल"/"कल", "Thursday"/"on Thursday"); nothing for older rows, which
    stored the words themselves. An in-app notification, read days later, gets markers instead:
    its page puts them in words when shown (notifications.markers.render_relative_times)."""
    if "days_away" not in context or not context.get("local_date"):
        return {}
    if context.get("rendered_for") == INAPP and context.get("day_zone"):
        return {
            name: day_marker(part=name.removeprefix("day_"), local_date=context["local_date"], tz=context["day_zone"])
            for name in ("day_label", "day_phrase")
        }
    language = language_of(context)
    if language not in {code for code, _ in settings.LANGUAGES}:
        language = "en"  # words the pages have no translation for read as the English copy does
    day = dt.date.fromisoformat(context["local_date"])
    with translation.override(language):
        locale = reader_locale(language=language, locale=settings.DEFAULT_LOCALE)
        words = day_words(day, today=day - dt.timedelta(days=context["days_away"]), locale=locale)
    if context.get("language_fallback_from") and context.get("scheduled_at") and context.get("day_zone"):
        # Sent in another language than the reader's (no approved template in theirs): the time
        # planning wrote in their language, said again in this one.
        moment = dt.datetime.fromisoformat(context["scheduled_at"])
        words["when"] = format_when(moment, tz=context["day_zone"], locale=locale)
    return words


RSVP_VARIABLES = {
    "rsvp_yes_url": "“I'll be there”: the student's one-tap answer (made when sent).",
    "rsvp_no_url": "“Can't make it”: the student's one-tap answer (made when sent).",
    "rsvp_remind_url": "“Remind me 1 h before”: the student's one-tap answer (made when sent).",
}
SESSION_24H = register(
    MessageKind(
        name="session_24h",
        variables={**SESSION_VARIABLES, **RSVP_VARIABLES},
        samples=SESSION_SAMPLES,
        topic=Topic.REMINDERS,
        channels=ALL,
        # The approved template's quick-reply buttons carry RSVP_YES, RSVP_NO and RSVP_1H (lms.rsvp).
        whatsapp_variables=("first_name", "title", "when", "join_url"),
        still_wanted=wanted.unwanted_session_reminders,
        attachments=calendar.session_attachments,
        display_context=session_day_words,
        render_context=session_links.sent_session_links,
        access_links=tuple(RSVP_VARIABLES),
        digest_phrase=ngettext_lazy("%(count)d class tomorrow", "%(count)d classes tomorrow", "count"),
        description="A live session starts within 24 hours (with a calendar invitation and the RSVP buttons).",
    )
)
SESSION_MOVED = register(
    MessageKind(
        name="session_moved",
        variables=SESSION_VARIABLES,
        samples=SESSION_SAMPLES,
        topic=Topic.REMINDERS,
        channels=(Channel.EMAIL, INAPP),
        still_wanted=wanted.unwanted_session_reminders,
        attachments=calendar.session_attachments,
        display_context=session_day_words,
        render_context=session_links.sent_session_links,
        digest_phrase=ngettext_lazy("%(count)d class moved", "%(count)d classes moved", "count"),
        description="A session more than a day away moved: its new time and the updated calendar invitation.",
    )
)
SESSION_15MIN = register(
    MessageKind(
        name="session_15min",
        variables=SESSION_VARIABLES,
        samples=SESSION_SAMPLES,
        topic=Topic.REMINDERS,
        channels=ALL,
        whatsapp_variables=("first_name", "title", "join_url"),
        still_wanted=wanted.unwanted_session_reminders,
        display_context=session_day_words,
        render_context=session_links.sent_session_links,
        urgency=CRITICAL,  # the class starts within 15 minutes: never held or capped
        description="A live session starts within 15 minutes (not to students who said they can't make it).",
    )
)
SESSION_1H = register(
    MessageKind(
        name="session_1h",
        variables=SESSION_VARIABLES,
        samples={**SESSION_SAMPLES, "minutes_left": 60},
        topic=Topic.REMINDERS,
        channels=ALL,
        whatsapp_variables=("first_name", "title", "join_url"),
        still_wanted=wanted.unwanted_session_reminders,
        display_context=session_day_words,
        render_context=session_links.sent_session_links,
        urgency=CRITICAL,  # within the hour
        description="A live session starts within the hour, to students who tapped “Remind me 1 h before”.",
    )
)
SESSION_LIVE = register(
    MessageKind(
        name="session_live",
        variables=SESSION_VARIABLES,
        samples={**SESSION_SAMPLES, "minutes_left": 1},
        topic=Topic.REMINDERS,
        channels=ALL,
        whatsapp_variables=("first_name", "title", "join_url"),
        still_wanted=wanted.unwanted_session_reminders,
        display_context=session_day_words,
        render_context=session_links.sent_session_links,
        urgency=CRITICAL,  # the class has started
        description="“We're live, join now”, 5 minutes after the start, to students who have not joined "
        "and did not say they can't make it.",
    )
)
SESSION_RSVP_NOTED = register(
    MessageKind(
        name=rsvp.RSVP_NOTED,
        variables={"title": "The session's title.", "answer": "The answer: yes, no or remind_1h."},
        samples={"title": "Python Basics: Loops", "answer": "yes"},
        topic=Topic.REMINDERS,
        channels=(Channel.WHATSAPP,),
        reply=True,
        description="Confirms an RSVP button tapped on WhatsApp, inside the window the tap opened.",
    )
)
# What the two recording notices (came, or missed it) share.
RECORDING = {
    "samples": {"session_title": "Python Basics: Loops", "course_title": "Python for Beginners"},
    "topic": Topic.REMINDERS,
    "channels": (Channel.EMAIL, INAPP),
    "digest_phrase": ngettext_lazy("%(count)d new recording", "%(count)d new recordings", "count"),
}
RECORDING_AVAILABLE = register(
    MessageKind(
        name="recording_available",
        variables={
            "session_title": "The recorded session's title.",
            "course_title": "The course's title.",
            "watch_url": "The recording's link.",
            "dashboard_url": "The student's dashboard.",
        },
        **RECORDING,
        description="A session's recording can be watched (to students who came, or when attendance is unknown).",
    )
)
RECORDING_MISSED = register(
    MessageKind(
        name="recording_missed",
        variables={
            "session_title": "The recorded session's title.",
            "course_title": "The course's title.",
            "watch_url": "The recording, through the student's tracked link (made when sent).",
            "dashboard_url": "The student's dashboard.",
        },
        **RECORDING,
        render_context=session_links.sent_recording_links,
        description="“You missed it, here is the recording”: to students who did not join the session.",
    )
)
ASSIGNMENT_DUE = register(
    MessageKind(
        name="assignment_due",
        variables={
            "title": "The assignment's title.",
            "course_title": "The course's title.",
            "deadline": "The deadline, in the student's time zone and language.",
            "submit_url": "The assignment's page, to submit.",
        },
        samples={"title": "Week 2 exercises", "deadline": "Fri, 27 Nov 2026, 11:59 PM IST"},
        topic=Topic.REMINDERS,
        channels=(Channel.EMAIL, INAPP),
        still_wanted=wanted.unwanted_assignment_reminders,
        digest_phrase=ngettext_lazy("%(count)d assignment due", "%(count)d assignments due", "count"),
        description="An assignment not yet submitted is due within 48 hours.",
    )
)
PAYMENT_REMINDER = register(
    MessageKind(
        name="payment_reminder",
        variables={
            "amount": "The amount with its currency, in the student's language (e.g. ₹4,999).",
            "description": "What the payment is for (may be empty).",
            "course_title": "The course the payment is for (may be empty).",
            "payment_url": "Where to pay.",
        },
        samples={"amount": "₹4,999", "description": "Course fee", "course_title": "Python for Beginners"},
        category=Category.TRANSACTIONAL,
        topic=Topic.PAYMENTS,
        channels=ALL,
        whatsapp_variables=("first_name", "amount", "payment_url"),
        still_wanted=wanted.unwanted_payment_reminders,
        digest_phrase=ngettext_lazy("%(count)d payment pending", "%(count)d payments pending", "count"),
        description="A payment has been pending for some days.",
    )
)
SET_PASSWORD_LINK = register(
    MessageKind(
        name=accounts.SET_PASSWORD_LINK,
        variables={
            "email": "The account's email address.",
            "set_password_url": "The one-time link to choose a password (made when sent).",
            "link_expires": "When the link expires.",
            "login_url": "The login page.",
        },
        samples={"email": "asha@example.com", "link_expires": "Thu, 26 Nov 2026, 10:00 AM IST"},
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.EMAIL,),
        still_wanted=accounts.unwanted_set_password_links,
        render_context=accounts.set_password_links,
        access_links=("set_password_url",),
        description="A link to choose a password, asked for on the forgot-password or expired-link page.",
    )
)
PHONE_CODE = register(
    MessageKind(
        name=phones.PHONE_CODE,
        variables={
            "code": "The one-time code that proves the number (made when sent).",
            "minutes": "For how many minutes the code works.",
        },
        samples={"minutes": 10},
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.WHATSAPP,),
        # An authentication template approved with the provider, its one variable the code.
        whatsapp_variables=("code",),
        still_wanted=phones.unwanted_phone_codes,
        render_context=phones.verification_code,
        secret_variables=("code",),
        description="A one-time code to a number a student typed on their profile: it joins the account once entered.",
    )
)
