"""System checks for automation's settings: AUTOMATION_SCHEDULES names known jobs, in a known form, and
every setting automation reads can be read."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import conf
from .jobs import BY_NAME, JOBS, ScheduleSpec


def check_automation_schedules(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every key of AUTOMATION_SCHEDULES is a job's name and every value a schedule that can be read."""
    errors = []
    full_names = {job.name for job in JOBS}
    try:
        schedules = conf.schedules
    except ImproperlyConfigured:  # not key=value pairs: check_settings says so (E003)
        return []
    for name, text in schedules.items():
        if name not in full_names:
            job = BY_NAME.get(name)
            errors.append(
                checks.Error(
                    f"AUTOMATION_SCHEDULES names {name!r}, which is no job: its schedule is ignored.",
                    hint=f"Use the job's full name, {job.name!r}."
                    if job
                    else f"Jobs: {', '.join(sorted(full_names))}.",
                    id="automation.E001",
                )
            )
            continue
        try:
            ScheduleSpec.parse(text)
        except ImproperlyConfigured as exc:
            errors.append(
                checks.Error(
                    f"AUTOMATION_SCHEDULES gives {name} the schedule {text!r}, which cannot be read.",
                    hint=str(exc),
                    id="automation.E002",
                )
            )
    return errors


@checks.register("settings")  # registered when the app imports this module (ready)
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every setting automation reads can be read (E003-E010)."""
    return conf.check()
