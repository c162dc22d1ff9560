"""Shared set-up for the notifications tests."""

import datetime as dt

from notifications.services.planning import PlannedMessage, Recipient, plan_messages

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def plan_session_reminder(user, *, event="42@20261125T0430", now=NOW, expires_at=None):
    """Plan one 24-hour session reminder for `user` (email, WhatsApp, in-app)."""
    return plan_messages(
        kind="session_24h",
        now=now,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(user),
                event_key=event,
                context={
                    "title": "Python Basics",
                    "when": "Wed, 25 Nov 2026, 10:00 am IST",
                    "day_label": "Tomorrow",
                    "day_phrase": "tomorrow",
                    "join_url": "https://meet.example.com/python",
                },
                subject_type="tests.event",
                subject_id=42,
                link="https://meet.example.com/python",
                expires_at=expires_at,
            )
        ],
    )
