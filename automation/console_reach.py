"""
The dashboard's reach section: per live session of the last 14 days (and the next day), who the
reminders reached at least REACH_MINUTES before the start, on which channel, at what cost, who
answered and came, the no-shows who opened the recording, and the hold-out's uplift
(lms.session_figures, the same figures as the session's admin page).
"""

import datetime as dt

from django.urls import reverse

from lms.conf import conf as lms_conf
from lms.models import LiveSession
from lms.session_figures import session_figures

RECENT = dt.timedelta(days=14)
AHEAD = dt.timedelta(days=1)
MOST = 20  # sessions on the page, the latest first


def reach_context(*, now: dt.datetime) -> dict:
    """{"reach_sessions": [{session, figures, url}]}: a few queries per session, at most MOST sessions."""
    sessions = (
        LiveSession.objects.filter(is_cancelled=False, scheduled_at__gte=now - RECENT, scheduled_at__lte=now + AHEAD)
        .select_related("course")
        .order_by("-scheduled_at")[:MOST]
    )
    return {
        "reach_minutes": lms_conf.reach_minutes,
        "reach_sessions": [
            {
                "session": session,
                "figures": session_figures(session),
                "url": reverse("admin:lms_livesession_change", args=[session.pk]),
            }
            for session in sessions
        ],
    }
