"""
The attention budget on the staff dashboard: how many messages it held (quiet hours, the marketing
window), held or folded for the daily cap, and summed up in digests, per day for the last week.

Each message is counted on its recipient's local calendar day, as the cap counts it
(notifications.api.attention_counts); the dashboard includes admin/automation/_attention_counts.html.
"""

import datetime as dt

from notifications.api import attention_counts

DAYS = 7


def attention_context(*, now: dt.datetime) -> dict:
    """The dashboard's attention section: a row a day, newest first, and the week's totals."""
    rows = [
        {**row, "held_for_hours": row["held"] - row["capped"], "capped_or_folded": row["capped"] + row["folded"]}
        for row in attention_counts(now=now, days=DAYS)
    ]
    columns = ("held_for_hours", "capped", "folded", "capped_or_folded", "digested", "expired", "dropped")
    totals = {column: sum(row[column] for row in rows) for column in columns}
    return {"attention_days": rows, "attention_totals": totals, "attention_week": DAYS}
