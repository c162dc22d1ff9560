"""The SQL plan_audience() sends, per database vendor, against the text stored beside this test
(sql/audience.<vendor>.sql), so that a change to a recipient rule's SQL (notifications.recipients)
or to the statements shows in review as a change to that file.

After an intended change, write the new text with UPDATE_SQL_SNAPSHOTS=1 (once on SQLite and once
with DATABASE_URL set to PostgreSQL) and review the difference.
"""

import os
from pathlib import Path

import pytest
import sqlparse
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BigIntegerField, F, TextField, Value
from django.db.models.functions import Cast

from notifications.services.audiences import Audience, Group, plan_audience
from notifications.services.audiences.statements import Statements

from .helpers import NOW
from .test_audiences import KIND, audience, people  # noqa: F401 (people: a fixture)

pytestmark = pytest.mark.django_db
SNAPSHOTS = Path(__file__).parent / "sql"


def leads_audience() -> Audience:
    """People without an account, an event each, their language kept on their rows (as a campaign's)."""
    rows = get_user_model().objects.values(
        "email",
        "name",
        "phone",
        "language",
        "whatsapp_opt_in",
        recipient_id=Cast(Value(None), output_field=BigIntegerField()),
        subject_id=F("pk"),
        event_key=Cast("pk", output_field=TextField()),
    )
    shared = Group(context={"day": 0})
    return Audience(
        rows=rows,
        group_by=(),
        make_group=lambda row: shared,
        subject_type="tests.lead",
        row_context={"lead_id": "subject_id"},
        accounts=False,
    )


def statements_sent(monkeypatch) -> list[str]:
    sent = []
    execute = Statements._execute

    def recording(self, sql, params, answer):
        sent.append(sql)
        return execute(self, sql, params, answer)

    monkeypatch.setattr(Statements, "_execute", recording)
    return sent


def test_the_sql_of_an_audience_is_the_stored_text_for_this_database(people, monkeypatch):  # noqa: F811
    sent = statements_sent(monkeypatch)
    runs = [
        ("accounts, dry run", lambda: plan_audience(kind=KIND, audience=audience(), now=NOW, dry_run=True)),
        ("accounts", lambda: plan_audience(kind=KIND, audience=audience(), now=NOW)),
        ("no accounts", lambda: plan_audience(kind="lead_day0", audience=leads_audience(), now=NOW)),
    ]
    text = []
    for title, run in runs:
        sent.clear()
        run()
        text.append(f"-- {title}")
        text += [sqlparse.format(sql, reindent=True) + ";" for sql in sent]
    text = "\n\n".join(text) + "\n"

    snapshot = SNAPSHOTS / f"audience.{connection.vendor}.sql"
    if os.environ.get("UPDATE_SQL_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(text)
    assert snapshot.exists(), f"No stored SQL for {connection.vendor}: run with UPDATE_SQL_SNAPSHOTS=1"
    assert text == snapshot.read_text()
