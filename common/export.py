"""
CSV exports from the admin, streamed: a list of a million ledger rows leaves row by row.

Why a StreamingHttpResponse over `QuerySet.iterator()` and not django-import-export: the rows go
to the client as they are read (a PostgreSQL server-side cursor, 2,000 rows a fetch), so memory
stays flat whatever the count and the first bytes leave at once; django-import-export builds the
whole dataset (tablib) in memory before writing it. Excel opens the files as they are (UTF-8 with a
byte-order mark); no .xlsx is offered, since writing one (openpyxl, even write-only) cannot send a
byte before the last row is written and zipped. Cells that a spreadsheet would read as a formula
are escaped, and times are written in UTC (ISO 8601), said in the header.
"""

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.urls import path

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def safe_cell(value) -> str:
    """A cell a spreadsheet shows as text: times in UTC, formulas escaped."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file whose write returns what it is given: the csv writer's line, for streaming."""

    def write(self, value):
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterable[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # the byte-order mark tells Excel the file is UTF-8
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def stream_csv(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class CsvExportMixin:
    """An "Export CSV" button on a model admin's list: the rows the list shows (its filters, its
    search, its date drill-down), every page of them, streamed. Needs the model's view permission;
    `export_columns` is [(header, lookup or callable(row tuple) ...)], read with values_list."""

    export_columns: Sequence[tuple[str, str]] = ()
    export_name = "export"
    change_list_template = "admin/csv_export_change_list.html"

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context)

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def export_queryset(self, request):
        """The list's rows as the list's query string filters them (all pages)."""
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            raise PermissionDenied from None
        return changelist.get_queryset(request)

    def export_rows(self, queryset) -> Iterable[Sequence]:
        lookups = [lookup for _, lookup in self.export_columns]
        return queryset.values_list(*lookups).order_by("pk").iterator(chunk_size=CHUNK)

    def export_view(self, request):
        if not self.has_export_permission(request):
            raise PermissionDenied
        header = [name for name, _ in self.export_columns]
        queryset = self.export_queryset(request)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        return stream_csv(f"{self.export_name}-{stamp}.csv", header, self.export_rows(queryset))


def export_action(description: str) -> Callable:
    """An admin action exporting the selected rows of a CsvExportMixin admin."""

    @admin.action(description=description, permissions=["view"])
    def export_selected(model_admin, request, queryset):
        header = [name for name, _ in model_admin.export_columns]
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        return stream_csv(f"{model_admin.export_name}-{stamp}.csv", header, model_admin.export_rows(queryset))

    return export_selected
