"""Whether a background worker (django-q2's `qcluster`) is running, for pages that promise a send."""


def worker_running() -> bool:
    """True when a live qcluster reported to the broker in the last seconds (django-q2's own stats,
    refreshed every guard cycle and expired soon after the cluster stops); False when none does or
    the broker cannot be asked."""
    from django_q.status import Stat

    try:
        return any(stat.tob for stat in Stat.get_all())
    except Exception:
        return False
