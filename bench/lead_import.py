"""
Import: rows per second of the lead CSV importer (`manage.py import_leads FILE`) on 100,000 rows.

Measured twice: the import alone (--no-campaign), then, its leads removed, the command as people run
it, which also plans the Day 0 email of every new lead in the same transaction.

The CSV looks like a marketing export: names, emails, phone numbers typed every which way, a source
and an extra column; 1 row in 100 has an invalid email and 1 in 100 repeats an earlier address.
"""

import csv
import importlib.util
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import psycopg
from django.core.management import call_command, get_commands

from .timing import BudgetExceeded, counting_queries, timed

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FIRST = ["Asha", "Ravi", "Priya", "Arjun", "Meera", "Kiran", "Divya", "Rahul", "Sneha", "Vikram"]
LAST = ["Verma", "Sharma", "Iyer", "Reddy", "Nair", "Gupta", "Khan", "Das", "Patel", "Singh"]
CITIES = ["Mumbai", "Delhi", "Bengaluru", "Chennai", "Pune", "Hyderabad", "Kolkata", "Dubai"]


@dataclass
class ImportRow:
    how: str
    rows: int
    seconds: float | None
    queries: int | None
    leads_made: int | None
    note: str = ""

    @property
    def per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None


def _phone(n: int) -> str:
    digits = f"98{n % 100_000_000:08d}"
    return (f"+91{digits}", f"{digits[:5]} {digits[5:]}", f"0{digits}", f"+91-{digits}")[n % 4]


def write_csv(rows: int) -> Path:
    """Write the import file (bench/results/, ignored by git); return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"leads-{rows}.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "email", "phone", "source", "city"])
        for n in range(1, rows + 1):
            if n % 100 == 0:
                email = f"not-an-email-{n}"
            elif n % 100 == 50:
                email = f"Import{n - 49}@Example.NET"  # a repeat, in other case
            else:
                email = f"import{n}@example.net"
            name = f"{FIRST[n % 10]} {LAST[(n // 10) % 10]}"
            writer.writerow([name, email, _phone(n), "bench-import", CITIES[n % len(CITIES)]])
    return path


def run_import(conn: psycopg.Connection, *, rows: int, deadline: float) -> list[ImportRow]:
    """Import the CSV with the app's importer, if it exists yet; report rows per second."""
    path = write_csv(rows)
    if "import_leads" not in get_commands():
        module = "exists" if importlib.util.find_spec("leads.importing") else "does not exist"
        why = f"not available yet: no import_leads command (leads/importing.py {module})"
        return [ImportRow("manage.py import_leads FILE", rows, None, None, None, why)]
    alone = _import(conn, path, rows=rows, options=["--no-campaign"], deadline=deadline)
    # Make the file's leads new again for the second import.
    conn.execute("DELETE FROM leads_lead WHERE source = 'bench-import' OR email LIKE 'import%%@example.net'")
    whole = _import(conn, path, rows=rows, options=[], deadline=deadline)
    return [alone, whole]


def _import(conn: psycopg.Connection, path: Path, *, rows: int, options: list[str], deadline: float) -> ImportRow:
    how = " ".join(["manage.py import_leads FILE", *options])
    before = conn.execute("SELECT count(*) FROM leads_lead").fetchone()[0]
    note = ""
    with timed() as clock, counting_queries(deadline=deadline) as counter:
        try:
            call_command("import_leads", str(path), "--source", "bench-import", *options, stdout=StringIO())
        except BudgetExceeded:
            note = "stopped at the time budget"
    made = conn.execute("SELECT count(*) FROM leads_lead").fetchone()[0] - before
    if note:  # rows/s from what it inserted before it was stopped (rolled back since: all or nothing)
        return ImportRow(
            how, counter.counted.inserted["leads_lead"], clock.seconds, counter.counted.queries, made, note
        )
    return ImportRow(how, rows, clock.seconds, counter.counted.queries, made)
