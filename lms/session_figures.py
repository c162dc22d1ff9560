"""A live session's figures for staff (its admin page): who was reached in time, who answered, who came."""

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from notifications.api import INAPP, Channel, recipients_reached, spend_for_subjects

from . import messages
from .conf import conf
from .holdout import held_out_students
from .models import Enrollment, LiveSession, RecordingOpen, SessionAttendance, SessionRsvp
from .wanted import SESSION, session_event_key

BEFORE_START = (messages.SESSION_24H.name, messages.SESSION_1H.name, messages.SESSION_15MIN.name)


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"


@dataclass
class SessionFigures:
    enrolled: int
    reachable: int
    reached: int
    by_channel: dict[str, int]
    cost_per_reached: str
    rsvps: dict[str, int]
    joined: int
    no_shows: int
    no_shows_watched: int
    # The hold-out (lms.holdout: no escalation, no live nudge) against the rest: (size, reached, joined).
    holdout: tuple[int, int, int] = (0, 0, 0)
    rest: tuple[int, int, int] = (0, 0, 0)

    @property
    def uplift(self) -> str:
        """Reached and joined, the rest against the hold-out, in points; "–" without a hold-out."""
        if not self.holdout[0] or not self.rest[0]:
            return "–"
        reached = 100 * (self.rest[1] / self.rest[0] - self.holdout[1] / self.holdout[0])
        joined = 100 * (self.rest[2] / self.rest[0] - self.holdout[2] / self.holdout[0])
        return _("reached %(reached)+.0f pts, joined %(joined)+.0f pts") % {"reached": reached, "joined": joined}

    def group_text(self, group: tuple[int, int, int]) -> str:
        size, reached, joined = group
        return _("%(size)s: reached %(reached)s, joined %(joined)s") % {
            "size": size,
            "reached": _percent(reached, size),
            "joined": _percent(joined, size),
        }

    @property
    def reached_percent(self) -> str:
        return _percent(self.reached, self.reachable)

    @property
    def joined_percent(self) -> str:
        return _percent(self.joined, self.enrolled)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) for the admin page, in order."""
        channels = ", ".join(f"{name} {count}" for name, count in self.by_channel.items())
        return [
            (_("Enrolled"), str(self.enrolled)),
            (_("Reachable (email or WhatsApp not suppressed)"), str(self.reachable)),
            (
                _("Reached ≥ %(minutes)s min before the start") % {"minutes": conf.reach_minutes},
                f"{self.reached} ({self.reached_percent})",
            ),
            (_("Reached, by channel"), channels),
            (_("Cost per student reached"), self.cost_per_reached),
            (
                _("RSVPs: yes / no / remind 1 h / no answer"),
                " / ".join(str(self.rsvps[key]) for key in ("yes", "no", "remind_1h", "none")),
            ),
            (_("Joined"), f"{self.joined} ({self.joined_percent})"),
            (
                _("No-shows who opened the recording"),
                _("%(watched)s of %(no_shows)s") % {"watched": self.no_shows_watched, "no_shows": self.no_shows},
            ),
            *(
                [
                    (_("Hold-out (no escalation, no live nudge)"), self.group_text(self.holdout)),
                    (_("The rest"), self.group_text(self.rest)),
                    (_("Uplift"), self.uplift),
                ]
                if self.holdout[0]
                else []
            ),
        ]


def session_figures(session: LiveSession) -> SessionFigures:
    """The figures of one session, from the ledger and lms's own rows (a few queries)."""
    students = set(
        Enrollment.objects.filter(course_id=session.course_id, is_active=True, student__is_active=True).values_list(
            "student_id", flat=True
        )
    )
    reached = recipients_reached(
        kinds=BEFORE_START,
        event_key=session_event_key(session),
        before=session.scheduled_at - dt.timedelta(minutes=conf.reach_minutes),
    )
    reachable = reached.pop("reachable") & students
    by_channel = {
        label: len(reached.get(channel, set()) & students)
        for channel, label in ((Channel.WHATSAPP, "WhatsApp"), (Channel.EMAIL, "email"), (INAPP, "in-app"))
    }
    anyone = set().union(*reached.values()) & students
    cost = sum(
        (spend_for_subjects(subjects={SESSION: [session.pk]}, channel=channel)["cost"] for channel in Channel.values),
        start=0,
    )
    answers = dict(
        SessionRsvp.objects.filter(session=session, student_id__in=students).values_list("student_id", "answer")
    )
    rsvps = {key: sum(1 for answer in answers.values() if answer == key) for key in SessionRsvp.Answer.values}
    rsvps["none"] = len(students) - len(answers)
    joined = set(SessionAttendance.objects.filter(session=session).values_list("student_id", flat=True)) & students
    no_shows = students - joined
    watched = set(RecordingOpen.objects.filter(session=session).values_list("student_id", flat=True)) & no_shows
    held = held_out_students(session.course_id, students)
    rest = students - held
    return SessionFigures(
        enrolled=len(students),
        reachable=len(reachable),
        reached=len(anyone),
        by_channel=by_channel,
        cost_per_reached=f"₹{cost / len(anyone):.2f}" if anyone else "–",
        rsvps=rsvps,
        joined=len(joined),
        no_shows=len(no_shows),
        no_shows_watched=len(watched),
        holdout=(len(held), len(anyone & held), len(joined & held)),
        rest=(len(rest), len(anyone & rest), len(joined & rest)),
    )
