"""django-q2 task targets: thin wrappers over the runner."""

from .services import run_job


def run_scheduled_job(name: str) -> dict:
    """Run one job from its schedule; return a summary django-q2 stores with the task."""
    outcome = run_job(name=name, trigger="schedule")
    return {"job": outcome.job.name, "status": outcome.status, "records": outcome.records, "error": outcome.error}
