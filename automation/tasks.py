"""django-q2 task targets: thin wrappers over the runner."""

from .fanout import fan_out, share_is_fresh
from .services import run_job

DELIVERY_JOB = "deliver_messages"


def run_scheduled_job(name: str) -> dict:
    """Run one job from its schedule; return a summary django-q2 stores with the task. The delivery
    job first asks the other free workers to take a share of the backlog (fanout.py)."""
    shares = fan_out() if name == DELIVERY_JOB else 0
    outcome = run_job(name=name, trigger="schedule")
    summary = {"job": outcome.job.name, "status": outcome.status, "records": outcome.records, "error": outcome.error}
    return summary | ({"shares": shares} if shares else {})


def run_dispatch_share(queued_at: str) -> dict:
    """One worker's share of the delivery backlog (queued by the scheduled delivery run); a share
    that waited past its minute does nothing."""
    if not share_is_fresh(queued_at):
        return {"job": DELIVERY_JOB, "status": "stale"}
    outcome = run_job(name=DELIVERY_JOB, trigger="fan-out")
    return {"job": outcome.job.name, "status": outcome.status, "records": outcome.records, "error": outcome.error}
