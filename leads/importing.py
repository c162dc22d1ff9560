"""
Lead CSV import: validated row by row, all or nothing, with a report people can act on.

A file is refused whole, with one clear sentence, when it is too big, not UTF-8, has too many
columns or no email column (common headers such as “Email Address”, “Full Name” or “Mobile”
are recognised, leads/columns.py). Otherwise every row ends as created, duplicate (inside the file,
against existing leads, or an address that already has an account: a student is never a new
lead, and gets no campaign email) or invalid (with the reason and the line number: a cell too long
to read, too much in the other columns...), and the batch commits whole. A good email with a phone
that is not one is created without the phone, with a warning in its row of the report.
"""

import csv
import datetime as dt
import functools
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connections, router, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from common.db import insert_ignoring_conflicts
from common.phones import normalize_phone
from lms.models import User

from .campaigns import start_lead_campaign
from .columns import EMAIL, NAME, PHONE, ColumnMap, map_columns
from .models import CrmActivity, ImportBatch, Lead

CREATED, DUPLICATE, INVALID = "created", "duplicate", "invalid"
# Cells starting with these are formulas to a spreadsheet (CSV injection): escaped on export.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LOOKUP_CHUNK = 1000
EMAIL_MAX_LENGTH = Lead._meta.get_field("email").max_length


@dataclass
class RowResult:
    line: int
    status: str
    email: str
    name: str = ""
    # Why a row was not imported; for a created row, a warning (what was left out).
    reason: str = ""


@dataclass
class ImportResult:
    batch: ImportBatch | None  # None in a preview
    rows: list[RowResult] = field(default_factory=list)
    leads_emailed: int = 0

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def warnings(self) -> int:
        """Rows created with something left out (a phone that is not one)."""
        return sum(1 for row in self.rows if row.status == CREATED and row.reason)


def _decode(data: bytes) -> str:
    limit = settings.LEAD_IMPORT_MAX_BYTES
    if len(data) > limit:
        raise ValidationError(
            f"The file is {len(data) / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB. "
            "Split it into smaller files."
        )
    if not data.strip():
        raise ValidationError("The file is empty.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}). "
            "In Excel choose “Save As → CSV UTF-8”, then upload it again."
        ) from None


def _cell_too_long() -> str:
    return f"a cell is longer than {csv.field_size_limit():,} characters, so the row cannot be read"


def parse_leads_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[str] | None, str]]]:
    """Return the header (as written, stripped) and the non-blank rows as (line, cells, why
    unreadable); refuse bad files."""
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header = _read_header(reader)
    rows = _read_rows(reader, header)
    if not rows:
        raise ValidationError("The file has a header but no rows.")
    return header, rows


def read_columns(header: list[str], chosen: dict[int, str] | None = None) -> ColumnMap:
    """What each column holds (common headers recognised, or as staff `chosen`); refuse a file
    without an email column."""
    columns = map_columns(header, chosen)
    if EMAIL not in columns.fields:
        found = ", ".join(f"“{name.lower()}”" for name in header if name) or "nothing"
        raise ValidationError(
            "The file has no “email” column (the first line names the columns; “Email Address”, “E-mail” "
            f"and “Email ID” are read as one too). Found: {found}."
        )
    return columns


def _read_header(reader) -> list[str]:
    """The first line's column names, stripped; refuse a file without a usable one."""
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise ValidationError("The file is empty.") from None
    except csv.Error:
        raise ValidationError(
            f"The first line has a cell longer than {csv.field_size_limit():,} characters; it should name the columns."
        ) from None
    max_columns = settings.LEAD_IMPORT_MAX_COLUMNS
    if len(header) > max_columns:
        raise ValidationError(
            f"The file has {len(header):,} columns; the limit is {max_columns:,}. Remove the columns you do not need."
        )
    lower = [name.lower() for name in header]
    duplicates = sorted({name for name in lower if name and lower.count(name) > 1})
    if duplicates:
        raise ValidationError(f"The column {', '.join(duplicates)} appears twice in the first line.")
    return header


def _read_rows(reader, header: list[str]) -> list[tuple[int, list[str] | None, str]]:
    """The non-blank rows after the header as (line, cells, why unreadable); refuse too many."""
    rows = []
    limit = settings.LEAD_IMPORT_MAX_ROWS
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # Past csv's field size limit (131,072 characters): the reader drops the rest of the
            # line and carries on, so the row is reported, not the whole file refused.
            cells, problem = None, _cell_too_long()
        else:
            problem = ""
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
        if len(rows) >= limit:
            raise ValidationError(f"The file has more than {limit:,} rows; split it into smaller files.")
        if cells is not None:
            cells = [(cells[index].strip() if index < len(cells) else "") for index in range(len(header))]
        rows.append((reader.line_num, cells, problem))
    return rows


def _cell(cells: list[str] | None, columns: ColumnMap, name: str) -> str:
    index = columns.fields.get(name)
    return cells[index].strip() if cells is not None and index is not None else ""


def _check_row(cells: list[str] | None, columns: ColumnMap, *, problem: str = "") -> tuple[str, str, str, str, str]:
    """Return (email, name, phone, reason, warning); a reason means the row is invalid, a warning
    that it is imported without something (the phone)."""
    email = _cell(cells, columns, EMAIL).lower()
    name = _cell(cells, columns, NAME)[:150]
    if problem:
        return email, name, "", problem, ""
    extra_size = sum(len(cells[index]) for index in columns.extra)
    if extra_size > settings.LEAD_EXTRA_DATA_MAX_CHARS:
        return (
            email,
            name,
            "",
            f"the other columns hold {extra_size:,} characters; a lead keeps at most "
            f"{settings.LEAD_EXTRA_DATA_MAX_CHARS:,}",
            "",
        )
    if not email:
        return email, name, "", "the email is empty", ""
    if not is_valid_email(email):
        return email, name, "", f"“{email}” is not a valid email address", ""
    if len(email) > EMAIL_MAX_LENGTH:
        return email, name, "", f"the email is longer than {EMAIL_MAX_LENGTH} characters", ""
    try:
        phone = normalize_phone(_cell(cells, columns, PHONE))
    except ValidationError as exc:
        # The email is what the campaign needs: the lead is kept, the number is not.
        return email, name, "", "", f"imported without the phone: {exc.messages[0]}"
    return email, name, phone, "", ""


def is_valid_email(email: str) -> bool:
    """Return whether Django's validate_email accepts `email`, checking each domain only once.

    validate_email checks the length, the part before the last "@" (one regex) and the domain (the
    costly part); a list of 100,000 leads has a few hundred domains. Only a yes is taken from the
    shortcut: anything it doubts goes to validate_email itself.
    """
    user, at, domain = email.rpartition("@")
    if at and len(email) <= 320 and _user_part_match()(user) and _domain_is_valid(domain):
        return True
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


@functools.cache
def _user_part_match():
    # The regex is a lazy object; going through it costs more than matching.
    return validate_email.user_regex.match


@functools.lru_cache(maxsize=10_000)
def _domain_is_valid(domain: str) -> bool:
    try:
        validate_email(f"a@{domain}")
    except ValidationError:
        return False
    return True


def _existing_emails(emails: list[str], *, model=Lead) -> set[str]:
    """Return those of the (lower-case) `emails` already on a `model` row (a lead, an account),
    whatever the case they were saved in."""
    connection = connections[router.db_for_read(model)]
    if connection.vendor == "postgresql":
        # One query on the lower(email) unique index; the emails go as one JSON array, which
        # json.dumps writes at C speed where psycopg would quote an array's elements one by one.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT lower(email) FROM {connection.ops.quote_name(model._meta.db_table)} "
                "WHERE lower(email) = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))",
                [json.dumps(emails, ensure_ascii=False)],
            )
            return {email for (email,) in cursor.fetchall()}
    found = set()
    rows = model.objects.annotate(email_lower=Lower("email"))
    for start in range(0, len(emails), LOOKUP_CHUNK):
        chunk = emails[start : start + LOOKUP_CHUNK]
        found.update(rows.filter(email_lower__in=chunk).values_list("email_lower", flat=True))
    return found


STUDENT_ROW = "already a student (has an account), so no campaign email"
STAFF_ROW = "has a staff account, so no campaign email"


def _accounts(emails: list[str]) -> dict[str, str]:
    """Return, for those of `emails` that already have an account, why their row is not a new lead."""
    found = _existing_emails(emails, model=User)
    if not found:
        return {}
    staff = User.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=found)
    staff = set(staff.exclude(role=User.Role.STUDENT).values_list("email_lower", flat=True))
    return {email: STAFF_ROW if email in staff else STUDENT_ROW for email in found}


def check_leads(data: bytes, chosen: dict[int, str] | None = None) -> tuple[ColumnMap, list[tuple]]:
    """Read a file and check each row: (the column map, [(line, cells, email, name, phone, reason,
    warning)])."""
    header, rows = parse_leads_csv(data)
    columns = read_columns(header, chosen)
    return columns, [(line, cells, *_check_row(cells, columns, problem=problem)) for line, cells, problem in rows]


@dataclass
class Preview:
    """What importing a file would do, before anything is written or sent."""

    columns: ColumnMap
    first_rows: list[list[str]]
    result: ImportResult

    @property
    def warnings(self) -> list[str]:
        return self.columns.warnings()


def preview_leads(data: bytes, chosen: dict[int, str] | None = None, *, shown: int = 5) -> Preview:
    """The column map, the first `shown` rows and the row report of importing `data`; writes nothing."""
    columns, checked = check_leads(data, chosen)
    result = ImportResult(batch=None)
    _sort_rows(checked, result=result, shared={}, columns=columns, progress=None)
    first = [cells for _, cells, *_ in checked[:shown] if cells is not None]
    return Preview(columns=columns, first_rows=first, result=result)


@transaction.atomic
def import_leads(
    *,
    data: bytes,
    filename: str = "",
    source: str = "",
    uploaded_by=None,
    start_campaign: bool = True,
    columns: dict[int, str] | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import a leads CSV as one batch (all or nothing) and, by default, start its Day 0 campaign
    (`columns`: what staff chose each column holds, by index; common headers are recognised)."""
    now = now or timezone.now()
    source = source[:100]
    column_map, checked = check_leads(data, columns)
    batch = ImportBatch.objects.create(
        filename=filename[:255], source=source, uploaded_by=uploaded_by, total_rows=len(checked), created_at=now
    )
    result = ImportResult(batch=batch)
    shared = {"source": source, "import_batch_id": batch.pk, "created_at": now}
    new_leads = _sort_rows(checked, result=result, shared=shared, columns=column_map, progress=progress)
    # Rows are validated above (emails, E.164 phones); a plain multi-row insert keeps 100k rows fast.
    insert_ignoring_conflicts(Lead, new_leads)
    _record_batch(batch, result=result, uploaded_by=uploaded_by, filename=filename, now=now)
    if start_campaign and new_leads:
        result.leads_emailed = start_lead_campaign(import_batch=batch, now=now).leads_emailed
    return result


def _sort_rows(checked: list[tuple], *, result: ImportResult, shared: dict, columns: ColumnMap, progress) -> list[dict]:
    """Report each checked row on `result` as created, duplicate or invalid; return the new leads'
    fields (each with the `shared` ones)."""
    valid = sorted({email for _, _, email, _, _, reason, _ in checked if not reason})
    existing, accounts = _existing_emails(valid), _accounts(valid)
    first_line: dict[str, int] = {}
    new_leads = []
    extra = [(index, columns.header[index].lower()) for index in columns.extra]
    for done, (line, cells, email, name, phone, reason, warning) in enumerate(checked, 1):
        if reason:
            result.rows.append(RowResult(line, INVALID, email, name, reason))
        elif email in first_line:
            result.rows.append(
                RowResult(line, DUPLICATE, email, name, f"also on line {first_line[email]} of this file")
            )
        elif email in accounts:
            result.rows.append(RowResult(line, DUPLICATE, email, name, accounts[email]))
        elif email in existing:
            result.rows.append(RowResult(line, DUPLICATE, email, name, "already a lead"))
        else:
            first_line[email] = line
            result.rows.append(RowResult(line, CREATED, email, name, warning))
            data = {key: cells[index] for index, key in extra if cells[index]}
            new_leads.append({"email": email, "name": name, "phone": phone, **shared, "data": data})
        if progress and (done % 1000 == 0 or done == len(checked)):
            progress(done, len(checked))
    return new_leads


def _record_batch(batch: ImportBatch, *, result: ImportResult, uploaded_by, filename: str, now: dt.datetime) -> None:
    """Keep the batch's counts and report, and say in the CRM what was imported."""
    batch.created_count = result.count(CREATED)
    batch.duplicate_count = result.count(DUPLICATE)
    batch.invalid_count = result.count(INVALID)
    batch.report = [[row.line, row.status, row.email, row.name, row.reason] for row in result.rows]
    batch.save(update_fields=["created_count", "duplicate_count", "invalid_count", "report"])
    CrmActivity.objects.create(
        kind=CrmActivity.Kind.LEAD_IMPORTED,
        actor=uploaded_by,
        description=f"Imported {batch.created_count} leads from {filename or 'a file'} "
        f"({batch.duplicate_count} duplicates, {batch.invalid_count} invalid).",
        metadata={"import_batch": batch.pk},
        created_at=now,
    )


def escape_cell(value) -> str:
    """Make a cell safe to open in a spreadsheet (no formula is ever evaluated)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def report_csv(batch: ImportBatch) -> str:
    """Return a batch's row-by-row report as CSV text, safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "status", "email", "name", "reason"])
    for row in batch.report:
        writer.writerow([escape_cell(cell) for cell in row])
    return buffer.getvalue()
