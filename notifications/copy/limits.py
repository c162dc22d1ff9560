"""
What one rendering of a staff template may cost: time, output and work (loop iterations and what
variables and filters produce).

A render runs inside `budget()`; every filter of the sandbox's library and every variable, loop
and lorem of a sandbox template (see sandbox._instrument) charges it, so a template that asks for a
200 MB string or for millions of loop iterations stops at the first charge past a limit, in
milliseconds, with `LimitExceeded`. Checking a version before it is saved renders it under the same
budget: what exceeds it cannot be saved; at send time it fails that one message with the reason.
"""

import contextlib
import contextvars
import re
import time
from dataclasses import dataclass

from django.utils.translation import gettext as _

MAX_SOURCE_CHARS = 20_000  # one part (subject, text, HTML) of a version
MAX_OUTPUT_CHARS = 200_000  # what one part renders to, and any one value or filter result on the way
MAX_WORK = 50_000  # characters produced by variables and filters, plus loop iterations x loop body size
MAX_SECONDS = 0.5  # a backstop: the work limit stops every known bomb long before
MAX_WIDTH = 1_000  # center/ljust/rjust widths, stringformat and floatformat digits, lorem's count

# Filters whose argument, not their input, decides how much they make.
WIDTH_FILTERS = frozenset({"center", "ljust", "rjust", "stringformat", "floatformat"})
_NUMBER = re.compile(r"\d+")


class LimitExceeded(Exception):
    """A staff template asked for more than one message may take."""


@dataclass
class Budget:
    deadline: float
    work: int = 0

    def charge(self, units: int) -> None:
        self.work += units
        if self.work > MAX_WORK:
            raise LimitExceeded(
                _(
                    "The template needs more work than a message may take (over %(units)s units:"
                    " loops inside loops, or values repeated too often)."
                )
                % {"units": f"{MAX_WORK:,}"}
            )
        if time.monotonic() > self.deadline:
            raise LimitExceeded(_("The template took longer than %(seconds)s s to render.") % {"seconds": MAX_SECONDS})


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("copy_render_budget", default=None)


@contextlib.contextmanager
def budget():
    """Render inside a fresh budget (one per part rendered)."""
    token = _current.set(Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        yield
    finally:
        _current.reset(token)


def charge(units: int = 0) -> None:
    """Charge the current render (every sandbox render runs in `budget()`; outside one, a filter's
    own size checks still hold)."""
    current = _current.get()
    if current is not None:
        current.charge(units)


def size(value) -> int:
    """How much a value weighs: its length when it has one that is cheap to know, else 1."""
    if isinstance(value, str | list | tuple | dict | set | frozenset | bytes):
        return len(value)
    return 1


def check_size(value) -> None:
    if size(value) > MAX_OUTPUT_CHARS:
        raise LimitExceeded(
            _("The template makes a text longer than %(limit)s characters.") % {"limit": f"{MAX_OUTPUT_CHARS:,}"}
        )


def check_width(name: str, arg) -> None:
    """Refuse a width-like argument (|center:"200000000", |stringformat:"0999999d") past MAX_WIDTH."""
    if name in WIDTH_FILTERS and any(int(number) > MAX_WIDTH for number in _NUMBER.findall(str(arg))):
        raise LimitExceeded(
            _("|%(filter)s asks for more than %(limit)s characters.")
            % {"filter": f"{name}:{arg!r}", "limit": f"{MAX_WIDTH:,}"}
        )


def check_join(value, arg) -> None:
    if size(value) * max(len(str(arg)), 1) > MAX_OUTPUT_CHARS:
        raise LimitExceeded(_("|join would make more than %(limit)s characters.") % {"limit": f"{MAX_OUTPUT_CHARS:,}"})
