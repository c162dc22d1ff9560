"""Template filters for times and notifications as their reader reads them (zone, language, region)."""

import datetime as dt
import re

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from common.formatting import format_relative, format_when, reader_locale

from ..markers import render_relative_times

register = template.Library()


def _locale(person) -> str:
    """The person's language in their region (the page's for a visitor): what their messages use too."""
    language = getattr(person, "language", "") or get_language()
    return reader_locale(language=language, locale=getattr(person, "locale", "") or settings.DEFAULT_LOCALE)


@register.filter
def relative_times(text: str) -> str:
    """Put the times marked in a notification's text in words as of now ("Starts in 10 minutes")."""
    return render_relative_times(text or "")


@register.filter
def when(moment: dt.datetime | None, person) -> str:
    """Return `moment` in `person`'s zone, in the page's language: the one format of every page and message."""
    if not moment:
        return ""
    return format_when(moment, tz=getattr(person, "timezone", ""), locale=_locale(person))


@register.filter
def ago(moment: dt.datetime | None, person=None) -> str:
    """Return how long ago (or how soon) `moment` is, in the page's language ("23 मिनट पहले")."""
    if not moment:
        return ""
    now = timezone.now()
    if abs(now - moment) < dt.timedelta(minutes=1):
        return gettext("just now")
    return format_relative(moment, now=now, locale=_locale(person))


# How a consent was given, as the pages say it (the ledger keeps the staff-facing English).
CONSENT_SOURCES = (
    (re.compile(r"^preferences page$"), _("this page")),
    (re.compile(r"^profile page$"), _("your profile page")),
    (re.compile(r"^CTA form\b"), _("the form you signed up with")),
    (re.compile(r"^WhatsApp reply “(?P<text>.*)”"), _("your WhatsApp reply “%(text)s”")),
)
SUPPRESSION_REASONS = {
    "unsubscribed": _("you unsubscribed"),
    "bounced": _("messages to it bounced"),
    "marked as spam": _("a message was marked as spam"),
    "invalid address": _("the number is not valid"),
    "opted out (stop)": _("you replied STOP"),
    "added by staff": _("our team stopped it"),
}


@register.filter
def consent_source(source: str) -> str:
    """Return how a WhatsApp consent was given or withdrawn, in the page's language (in English, as recorded)."""
    if (get_language() or "en").startswith("en"):
        return source
    for pattern, words in CONSENT_SOURCES:
        found = pattern.search(source or "")
        if found:
            return str(words) % found.groupdict() if found.groupdict() else str(words)
    return gettext("our team")


@register.filter
def block_reason(reason: str) -> str:
    """Return why WhatsApp cannot reach a number (a suppression's reason), in the page's language."""
    if (get_language() or "en").startswith("en"):
        return (reason or "").lower()
    return str(SUPPRESSION_REASONS.get((reason or "").lower(), reason))
