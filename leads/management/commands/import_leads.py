import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from common.formatting import text_table
from leads.importing import CREATED, import_leads, report_csv

SHOWN_PROBLEMS = 50


class Command(BaseCommand):
    help = "Import leads from a CSV file (name, email, phone; other columns kept) and start their Day 0 campaign."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, with or without BOM).")
        parser.add_argument("--source", default="", help="Where the list came from, e.g. 'webinar-nov'.")
        parser.add_argument("--no-campaign", action="store_true", help="Import only; do not send the Day 0 email.")
        parser.add_argument("--report", type=Path, help="Also write the row-by-row report to this CSV file.")

    def handle(self, *args, file, source, no_campaign, report, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        try:
            result = import_leads(
                data=data,
                filename=file.name,
                source=source,
                start_campaign=not no_campaign,
                progress=self._progress if sys.stdout.isatty() else None,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        batch = result.batch
        self.stdout.write(
            text_table(
                ["Import", "Rows", "Created", "Duplicates", "Invalid", "Day 0 emails"],
                [
                    [
                        f"#{batch.pk}",
                        batch.total_rows,
                        batch.created_count,
                        batch.duplicate_count,
                        batch.invalid_count,
                        result.leads_emailed,
                    ]
                ],
            )
        )
        # Rows not imported, and rows imported with something left out (a phone that is not one).
        problems = [row for row in result.rows if row.status != CREATED or row.reason]
        if problems:
            self.stdout.write("\nRows not imported, or imported with a warning:")
            rows = [[row.line, row.status, row.email, row.reason] for row in problems[:SHOWN_PROBLEMS]]
            self.stdout.write(text_table(["Line", "Status", "Email", "Why"], rows))
            if len(problems) > SHOWN_PROBLEMS:
                self.stdout.write(f"... and {len(problems) - SHOWN_PROBLEMS} more (use --report FILE for all).")
        if report:
            report.write_text(report_csv(batch), encoding="utf-8")
            self.stdout.write(f"\nReport written to {report}.")

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total)
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows", ending="")
        if done == total:
            self.stdout.write("")
