"""Admin for the job execution log: what ran, when, how long, how much, and what failed."""

from django.contrib import admin

from common.admin import ReadOnlyAdminMixin, preformatted, pretty_json

from .jobs import JOBS
from .models import JobExecutionLog, WorkerHeartbeat


class JobFilter(admin.SimpleListFilter):
    """Jobs from the registry: no scan of the log for its distinct names."""

    title = "job"
    parameter_name = "job_name"

    def lookups(self, request, model_admin):
        return [(job.name, job.name.replace("_", " ")) for job in JOBS]

    def queryset(self, request, queryset):
        return queryset.filter(job_name=self.value()) if self.value() else queryset


@admin.register(JobExecutionLog)
class JobExecutionLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "job_name",
        "status",
        "started_at",
        "duration",
        "records_processed",
        "trigger",
        "dry_run",
        "short_error",
    )
    list_filter = (JobFilter, "status", "trigger", "dry_run", "started_at")
    search_fields = ("=job_name", "error_message")
    search_help_text = "A job's full name, or words from the error message."
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    show_full_result_count = False
    list_per_page = 50
    fields = (
        "job_name",
        "status",
        "trigger",
        "dry_run",
        "started_at",
        "completed_at",
        "duration",
        "records_processed",
        "error",
        "metadata_json",
    )
    readonly_fields = fields

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj):
        if obj.duration_seconds is None:
            return "—"
        seconds = obj.duration_seconds
        return f"{seconds:.2f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"

    @admin.display(description="error")
    def short_error(self, obj):
        first_line = obj.error_message.strip().splitlines()[0] if obj.error_message.strip() else ""
        return first_line[:80]

    @admin.display(description="error")
    def error(self, obj):
        return preformatted(obj.error_message)

    @admin.display(description="metadata")
    def metadata_json(self, obj):
        return pretty_json(obj.metadata)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every django-q2 worker process that has run here (the jobs page shows the recent ones)."""

    list_display = ("host", "pid", "cluster", "last_beat_at", "tasks_done", "current_task", "started_at")
    list_filter = ("cluster",)
    search_fields = ("host",)
    ordering = ("-last_beat_at",)
