"""
The admin's lead import in two steps: upload, then map the columns and read the preview.

The uploaded file is kept (for a day at most) in a private folder under a random name the
uploader's session holds; the mapping step shows what each column is used for (common headers
recognised), the first rows, every column left unused and the row-by-row report, all before
anything is written or any email goes. Only "Import" writes, once, then the file is deleted.
"""

import re
import secrets
import tempfile
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.workers import worker_running

from .columns import EMAIL, FIELDS, IGNORE, KEEP, map_columns
from .importing import CREATED, DUPLICATE, INVALID, import_leads, parse_leads_csv, preview_leads

SESSION_KEY = "leads_import_uploads"
KEEP_SECONDS = 24 * 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
USE_CHOICES = [
    (EMAIL, gettext_lazy("Email (required)")),
    ("name", gettext_lazy("Name")),
    ("phone", gettext_lazy("Phone (WhatsApp)")),
    (KEEP, gettext_lazy("Keep with the lead as other data")),
    (IGNORE, gettext_lazy("Do not import")),
]


class LeadUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8, first line naming the columns: an email column, and name, phone … as your tool exports them."
        ),
    )
    source = forms.CharField(
        label=gettext_lazy("Source"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Where the list came from, e.g. webinar-nov."),
    )
    start_campaign = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Send the Day 0 email to the new leads after the import"),
    )


class ColumnMappingForm(forms.Form):
    """One choice per column of the file: what it holds."""

    def __init__(self, *args, header: list[str], initial_uses: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for index, name in enumerate(header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=name or _("Column %(number)s") % {"number": index + 1},
                choices=USE_CHOICES,
                initial=initial_uses[index],
            )

    def clean(self):
        cleaned = super().clean()
        chosen = [use for use in cleaned.values() if use in FIELDS]
        twice = sorted({use for use in chosen if chosen.count(use) > 1})
        if twice:
            fields = twice[0]
            for field in twice[1:]:
                fields = _("%(fields)s and the %(field)s") % {"fields": fields, "field": field}
            raise ValidationError(_("One column only may hold the %(fields)s.") % {"fields": fields})
        if EMAIL not in chosen:
            raise ValidationError(_("Choose the column that holds the email address."))
        return cleaned

    def chosen(self) -> dict[int, str]:
        return {int(name.removeprefix("col_")): use for name, use in self.cleaned_data.items()}


def staging_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / "coursehub-lead-imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _forget_old_files(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for path in folder.glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def stage_upload(request, *, data: bytes, filename: str, source: str, start_campaign: bool) -> str:
    """Keep an uploaded file for the mapping step; return its token (held by this session only)."""
    folder = staging_dir()
    _forget_old_files(folder)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.csv").write_bytes(data)
    uploads = request.session.get(SESSION_KEY, {})
    uploads[token] = {"filename": filename[:255], "source": source, "start_campaign": start_campaign}
    request.session[SESSION_KEY] = uploads
    return token


def _staged(request, token: str) -> tuple[dict, bytes]:
    uploads = request.session.get(SESSION_KEY, {})
    if not TOKEN.match(token) or token not in uploads:
        raise Http404(_("No such upload (it may have been imported already, or be older than a day)."))
    try:
        return uploads[token], (staging_dir() / f"{token}.csv").read_bytes()
    except OSError:
        raise Http404(_("The uploaded file is gone (older than a day); upload it again.")) from None


def _drop(request, token: str) -> None:
    uploads = request.session.get(SESSION_KEY, {})
    uploads.pop(token, None)
    request.session[SESSION_KEY] = uploads
    (staging_dir() / f"{token}.csv").unlink(missing_ok=True)


def upload_view(model_admin, request):
    """Step 1: the file, checked as a file (size, encoding, header), kept for the mapping step."""
    if not request.user.has_perm("leads.add_lead"):
        raise PermissionDenied
    form = LeadUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > settings.LEAD_IMPORT_MAX_BYTES:
                raise ValidationError(
                    _("The file is %(size)s MB; the limit is %(limit)s MB.")
                    % {
                        "size": f"{upload.size / 1_048_576:.1f}",
                        "limit": f"{settings.LEAD_IMPORT_MAX_BYTES / 1_048_576:.0f}",
                    }
                )
            data = upload.read()
            parse_leads_csv(data)
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            token = stage_upload(
                request,
                data=data,
                filename=upload.name,
                source=form.cleaned_data["source"],
                start_campaign=form.cleaned_data["start_campaign"],
            )
            return redirect("admin:leads_importbatch_map", token)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Upload leads"),
        "form": form,
        "max_mb": settings.LEAD_IMPORT_MAX_BYTES // 1_048_576,
        "max_rows": settings.LEAD_IMPORT_MAX_ROWS,
    }
    return TemplateResponse(request, "admin/leads/upload.html", context)


def map_view(model_admin, request, token: str):
    """Step 2: what each column holds, the first rows, unused columns and the row report; "Import"
    imports (and starts the campaign when asked), "Preview" shows the new mapping's outcome."""
    if not request.user.has_perm("leads.add_lead"):
        raise PermissionDenied
    upload, data = _staged(request, token)
    header, _rows = parse_leads_csv(data)
    recognised = map_columns(header)
    form = ColumnMappingForm(request.POST or None, header=header, initial_uses=recognised.uses)
    chosen = form.chosen() if request.method == "POST" and form.is_valid() else None
    if request.method == "POST" and chosen is not None and "import" in request.POST:
        return _import(model_admin, request, token, upload=upload, data=data, chosen=chosen)
    preview, problem = None, ""
    if not form.is_bound or form.is_valid():  # a mapping that cannot be imported is not previewed
        try:
            preview = preview_leads(data, chosen)
        except ValidationError as exc:
            problem = " ".join(exc.messages)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Map the columns of %(filename)s") % {"filename": upload["filename"]},
        "form": form,
        "upload": upload,
        "header": header,
        "preview": preview,
        "problem": problem,
        **(_report_context(preview) if preview else {}),
    }
    return TemplateResponse(request, "admin/leads/import_map.html", context)


def _report_context(preview) -> dict:
    result = preview.result
    problems = [row for row in result.rows if row.status != CREATED or row.reason]
    return {
        "counts": {
            "rows": len(result.rows),
            "created": result.count(CREATED),
            "duplicate": result.count(DUPLICATE),
            "invalid": result.count(INVALID),
            "warnings": result.warnings,
        },
        "problems": [[row.line, row.status, row.email, row.name, row.reason] for row in problems[:200]],
        "more": len(problems) > 200,
    }


def _import(model_admin, request, token: str, *, upload: dict, data: bytes, chosen: dict[int, str]):
    try:
        result = import_leads(
            data=data,
            filename=upload["filename"],
            source=upload["source"],
            uploaded_by=request.user,
            start_campaign=upload["start_campaign"],
            columns=chosen,
        )
    except ValidationError as exc:
        model_admin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return redirect("admin:leads_importbatch_map", token)
    _drop(request, token)
    batch = result.batch
    if not upload["start_campaign"]:
        emails = _("no Day 0 email was sent (the campaign was not started).")
    else:
        count = result.leads_emailed
        planned = ngettext("1 Day 0 email is planned", "%(count)s Day 0 emails are planned", count) % {"count": count}
        emails = f"{planned}{_worker_note()}."
    model_admin.message_user(
        request,
        _(
            "Imported %(created)s new leads from %(filename)s: %(duplicates)s duplicates and %(invalid)s "
            "invalid rows were skipped; %(emails)s"
        )
        % {
            "created": batch.created_count,
            "filename": batch.filename,
            "duplicates": batch.duplicate_count,
            "invalid": batch.invalid_count,
            "emails": emails,
        },
        messages.SUCCESS if not batch.invalid_count else messages.WARNING,
    )
    return redirect("admin:leads_importbatch_change", batch.pk)


def _worker_note() -> str:
    """When the emails leave: soon, or once the worker (`manage.py qcluster`) runs."""
    if worker_running():
        return _(" and leave with the worker's next run")
    return _(", but no worker is running: they leave once `manage.py qcluster` (or the cron jobs) runs")
