"""How much data each size generates."""

from dataclasses import dataclass

ENROLLMENTS_PER_COURSE = 500
COURSES_PER_STUDENT = 4


@dataclass(frozen=True)
class Size:
    name: str
    courses: int
    sessions: int  # live sessions in the next 24 hours
    pending_payments: int
    leads: int
    # Fixed at every size: the web user's notifications and the CSV import.
    heavy_user_notifications: int = 100_000
    import_rows: int = 100_000

    @property
    def enrollments(self) -> int:
        return self.courses * ENROLLMENTS_PER_COURSE

    @property
    def students(self) -> int:
        return self.enrollments // COURSES_PER_STUDENT

    @property
    def recordings(self) -> int:
        """Recordings published in the last week (each announced to its whole course)."""
        return max(1, self.courses // 10)

    @property
    def assignments(self) -> int:
        """Assignments due within 48 hours (as many again are due later and not reminded yet)."""
        return max(1, self.courses // 10)


# One live session per course in the next 24 hours: its reminders reach about 10,000, 100,000 and
# 1,000,000 students at the three sizes. `--sessions` asks for more (5,000 at large: 2.3M recipients).
SIZES = {
    size.name: size
    for size in (
        Size("small", courses=20, sessions=20, pending_payments=2_000, leads=1_000),
        Size("medium", courses=200, sessions=200, pending_payments=20_000, leads=10_000),
        Size("large", courses=2_000, sessions=2_000, pending_payments=200_000, leads=100_000),
    )
}
