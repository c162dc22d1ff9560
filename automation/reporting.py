"""Plain-text tables for commands: what each job did, readable in a terminal or a cron mail."""

from .services import JobOutcome


def _fmt_counts(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items(), key=lambda item: -item[1]))


def outcome_row(outcome: JobOutcome) -> list[str]:
    counts = outcome.counts
    if "outcomes" in counts:  # the delivery job
        out = counts["outcomes"]
        planned = "-"
        sent = str(out.get("sent", 0))
        skipped = str(sum(out.get(s, 0) for s in ("suppressed", "expired", "cancelled")))
        failed = str(out.get("failed", 0) + out.get("unknown", 0))
        if "due" in out:
            sent = f"({out['due']} due)"
    else:
        planned = str(sum(counts.get("planned", {}).values())) if counts else "-"
        sent = "-"
        skipped = str(sum(counts.get("skipped", {}).values())) if counts else "-"
        failed = "-"
    return [outcome.job.name, outcome.status, planned, sent, skipped, failed, f"{outcome.duration:.2f}s"]


def outcome_details(outcome: JobOutcome) -> list[str]:
    lines = []
    counts = outcome.counts
    for label, key in (("planned", "planned"), ("skipped", "skipped"), ("outcomes", "outcomes"), ("why", "reasons")):
        if counts.get(key):
            lines.append(f"    {label}: {_fmt_counts(counts[key])}")
    if outcome.error:
        lines.append(f"    error: {outcome.error}")
    return lines


JOB_HEADERS = ["Job", "Status", "Planned", "Sent", "Skipped", "Failed", "Time"]
