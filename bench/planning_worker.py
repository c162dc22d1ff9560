"""
One planning job in a process of its own: `python -m bench.planning_worker JOB NOW SECONDS`.

Runs the job's function (automation.jobs) with the benchmark's `now`, counting Django's queries and
the ledger rows they insert, stopped after SECONDS; prints one JSON line. The benchmark samples this
process's memory meanwhile, so one run gives the job's time, queries and peak RSS.
"""

import datetime as dt
import json
import os
import sys
import time


def main(job_name: str, now: str, seconds: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from automation.jobs import get_job

    from .timing import BudgetExceeded, counting_queries, timed

    function = get_job(job_name).function
    _warm_up()
    finished = True
    with timed() as clock, counting_queries(deadline=time.monotonic() + float(seconds)) as counter:
        try:
            function(now=dt.datetime.fromisoformat(now), dry_run=False)
        except BudgetExceeded:
            finished = False
    report = {
        "finished": finished,
        "seconds": clock.seconds,
        "cpu_seconds": clock.cpu_seconds,
        "queries": counter.counted.queries,
        "rows_written": counter.counted.rows_written,
    }
    print(json.dumps(report), flush=True)


def _warm_up() -> None:
    """Load what the benchmark's own process has loaded when it times the floor: Babel's data for each
    locale, the in-app templates, the URLconf (every view module) and its database connection's
    caches, which a fresh process fills on first use."""
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.urls import get_resolver
    from django.utils import timezone

    from common.formatting import format_money, format_when
    from notifications.kinds import INAPP, all_kinds
    from notifications.rendering import render_inapp

    for locale in get_user_model().objects.order_by().values_list("locale", flat=True).distinct():
        format_when(timezone.now(), tz="Asia/Kolkata", locale=locale)
        format_money(1, "INR", locale=locale)
    for kind in all_kinds():
        # Kinds that mint links for an account (set-password) need one: their templates load all the same.
        if INAPP in kind.channels and not kind.render_context:
            render_inapp(kind=kind, context={})
    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views
    for app in ("lms", "leads", "notifications"):  # the connection's catalog caches, as the floor's are
        for model in apps.get_app_config(app).get_models():
            model.objects.exists()


if __name__ == "__main__":
    main(*sys.argv[1:])
