"""The jobs dashboard in the admin: every job, its schedule and last run, and a Run now button."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from notifications.api import attention_counts

from .conf import conf
from .heartbeats import recent_workers
from .jobs import JOBS, get_job
from .selectors import jobs_overview, silent_jobs
from .services import run_job


@require_http_methods(["GET", "POST"])
def jobs_dashboard(request):
    """List the jobs; POST runs one now (staff with the "run job" permission only)."""
    if not request.user.has_perm("automation.view_jobexecutionlog"):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.has_perm("automation.run_job"):
            raise PermissionDenied
        try:
            job = get_job(request.POST.get("job", ""))
        except LookupError as exc:
            messages.error(request, str(exc))
            return redirect("automation_jobs")
        outcome = run_job(name=job.name, trigger=f"admin:{request.user.email}")
        level = messages.ERROR if outcome.failed else messages.SUCCESS
        text = f"{job.name}: {outcome.status}, {outcome.records} processed in {outcome.duration:.1f} s."
        messages.add_message(request, level, text + (f" {outcome.error}" if outcome.error else ""))
        return redirect("automation_jobs")
    now = timezone.now()
    silent = silent_jobs(now=now)
    context = {
        **admin.site.each_context(request),
        **jobs_overview(now=now),
        "title": "Scheduled jobs",
        "can_run": request.user.has_perm("automation.run_job"),
        "now": now,
        "silent": silent,
        "no_worker": len(silent) == len(JOBS),
        "attention": attention_counts(now=now),  # the attention budget's holds and folds per day
        "workers": _marked_silent(recent_workers(now=now), now=now),
        "worker_stale_seconds": conf.worker_stale_seconds,
        # One zone for the whole page, the admin's, named on it.
        "page_zone": timezone.get_current_timezone_name(),
    }
    return TemplateResponse(request, "admin/automation/jobs.html", context)


def _marked_silent(workers: list, *, now) -> list:
    """Mark the workers whose last heartbeat is older than AUTOMATION_WORKER_STALE_SECONDS."""
    for worker in workers:
        worker.silent = (now - worker.last_beat_at).total_seconds() > conf.worker_stale_seconds
    return workers
