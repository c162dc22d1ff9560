"""
Incremental planning: a scheduled rule's run costs what changed since its last run, not its window.

Each rule still decides from state (lms.reminders), so what it plans is the same; a run only looks at
fewer rows. Its last successful run leaves a mark (PlanningMark): the `now` it planned for and the
real time it started. The next run plans, inside the rule's window,

- every subject (session, recording, assignment, payment) whose row changed since that start, less
  CHANGE_MARGIN (a transaction that stamped a row just before the run began and committed after
  it read is seen by the next run), or whose window opened since: a session whose start entered
  the 24 h window between the two runs' `now` (a range of times, read from an index);
- for the other subjects, only the enrollments that changed since (a new or re-activated student),
  and those of students whose account changed (re-activated, a phone number or consent added).

A run is a full one (the whole window, as before) when there is no mark, when `now` is earlier than
the mark's (a test or `--now` going back), after downtime, and every PLANNING_FULL_SWEEP_MINUTES:
that sweep catches a write that did not move `updated_at` (raw SQL, a bulk write that bypasses the
models). A dry run (tomorrow's outbox) is always full and leaves no mark. The mark is written in the
run's transaction: a run that fails leaves the last one's, so the next run covers its changes too.
"""

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .conf import conf
from .models import Enrollment, PlanningMark, User

CHANGE_MARGIN = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Since:
    """What a run plans: everything (`full`), or what changed after `changed_after` (real clock) and
    what opened after the last run's `now` (`planned_through`)."""

    full: bool
    changed_after: dt.datetime | None = None
    planned_through: dt.datetime | None = None

    def subjects(self, *, opened: Q | None = None) -> Q:
        """The subjects of a window to plan whole: changed since, or (`opened`) newly in the window."""
        changed = Q(updated_at__gt=self.changed_after)
        return changed | opened if opened is not None else changed

    def students(self) -> Q:
        """Rows (enrollments, payments) of a student whose account changed since: re-activated, a phone
        number or WhatsApp consent added, a new time zone or language."""
        return Q(student_id__in=User.objects.filter(self.subjects()).values("pk"))

    def enrollments(self) -> Q:
        """The enrollments (of the window's other subjects) to plan: changed since, or their student."""
        return self.subjects() | self.students()

    def any_enrollment_changed(self) -> bool:
        """Whether any enrollment or account changed since (two index probes)."""
        changed = self.subjects()
        return Enrollment.objects.filter(changed).exists() or User.objects.filter(changed).exists()


FULL = Since(full=True)


@contextmanager
def planning_run(rule: str, *, now: dt.datetime, dry_run: bool):
    """Yield what a run of `rule` at `now` plans (a Since) in one transaction, and leave its mark."""
    if dry_run:
        yield FULL
        return
    with transaction.atomic():
        started = timezone.now()
        mark = PlanningMark.objects.select_for_update().filter(rule=rule).first()
        sweep = dt.timedelta(minutes=conf.planning_full_sweep_minutes)
        full = mark is None or not sweep or now < mark.planned_through or now - mark.swept_through >= sweep
        if full:
            since = FULL
        else:
            since = Since(
                full=False, changed_after=mark.started_at - CHANGE_MARGIN, planned_through=mark.planned_through
            )
        yield since
        fields = {
            "planned_through": now,
            "started_at": started,
            "swept_through": now if full else mark.swept_through,
            "runs_since_sweep": 0 if full else mark.runs_since_sweep + 1,
        }
        # Two first runs at once (no job lock in a test) both plan everything: the later mark wins.
        PlanningMark.objects.bulk_create(
            [PlanningMark(rule=rule, **fields)], update_conflicts=True, unique_fields=["rule"], update_fields=fields
        )
