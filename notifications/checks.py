"""
System checks for messages, run by every management command and `manage.py check`.

Each message kind needs the shipped templates of its channels, which must compile; with a
WhatsApp provider configured, each WhatsApp kind needs its approved template's id; every setting
notifications reads can be read. Without these checks a missing file or id, or a typo in `.env`, is
first noticed when a message fails to go out.
"""

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import DatabaseError
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template

from common.conf import mapping, text_list, unknown

from .conf import NotificationsConf, conf
from .kinds import TEMPLATE_FILES, all_kinds
from .models import Channel

# The shipped files each channel renders (kinds.TEMPLATE_FILES).
CHANNEL_FILES = {channel: tuple(parts.values()) for channel, parts in TEMPLATE_FILES.items()}
TWILIO_BACKEND = "notifications.channels.whatsapp.twilio.WhatsAppBackend"
META_BACKEND = "notifications.channels.whatsapp.meta.WhatsAppBackend"


def check_message_templates(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every message kind has a template, that compiles, for each file its channels render."""
    errors = []
    for kind in all_kinds():
        files = dict.fromkeys(name for channel in kind.channels for name in CHANNEL_FILES.get(channel, ()))
        for filename in files:
            name = f"{kind.template_dir}/{filename}"
            try:
                get_template(name)
            except TemplateDoesNotExist:
                channels = [channel for channel in kind.channels if filename in CHANNEL_FILES.get(channel, ())]
                errors.append(
                    checks.Error(
                        f"Message kind {kind.name!r} is sent by {' and '.join(channels)} but has no templates/{name}.",
                        hint=f"Write templates/{name}, or take the channel out of the kind's declaration.",
                        obj=kind.name,
                        id="notifications.E010",
                    )
                )
            except TemplateSyntaxError as exc:
                errors.append(
                    checks.Error(
                        f"templates/{name} does not compile: {exc}",
                        obj=kind.name,
                        id="notifications.E011",
                    )
                )
    return errors


def check_whatsapp_templates(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """With Twilio or Meta's Cloud API sending WhatsApp, every WhatsApp kind names its approved template.

    A business-initiated WhatsApp message must use an approved template: without its id the
    provider refuses every message of the kind. A warning, not an error, because staff may give a
    published version of the copy its own id (the admin), which a check cannot see.
    """
    backend = settings.WHATSAPP_BACKEND
    if backend == TWILIO_BACKEND:
        configured, setting, example = conf.twilio_content_sids, "TWILIO_CONTENT_SIDS", "HX0123456789abcdef"
        code = "notifications.W012"
    elif backend == META_BACKEND:
        configured = conf.meta_whatsapp_templates
        setting, example, code = "META_WHATSAPP_TEMPLATES", "session_reminder", "notifications.W013"
    else:
        return []
    # Marketing kinds go on WhatsApp only when given a template (else by email alone): not a problem.
    kinds = [
        kind for kind in all_kinds() if Channel.WHATSAPP in kind.channels and not kind.reply and not kind.is_marketing
    ]
    warnings = [
        checks.Warning(
            f"WhatsApp goes through {backend.split('.')[-2].capitalize()}, but {setting} names no approved "
            f"template for {kind.name!r}: the provider will refuse every {kind.name} WhatsApp message.",
            hint=f'Add "{kind.name}={example}" to {setting} (a template approved for business-initiated '
            f"messages), or publish a version of its WhatsApp copy with the template in the admin.",
            obj=kind.name,
            id=code,
        )
        for kind in kinds
        if not configured.get(kind.name)
    ]
    known = {kind.name for kind in all_kinds()}
    warnings += [
        checks.Warning(
            f"{setting} names {key!r}, which is no message kind: its template is never used.",
            hint=f"WhatsApp kinds: {', '.join(sorted(kind.name for kind in kinds))} (or KIND:LANGUAGE).",
            id="notifications.W014",
        )
        for key in configured
        if key.split(":")[0] not in known
    ]
    return warnings


def check_whatsapp_template_fit(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Each WhatsApp kind fits its synced approved template, in every language its readers use.

    A kind whose variables do not fit the template's components (a HEADER {{1}} it does not map)
    would be refused by Meta (132000): its messages are held, and this says why. A language
    readers use with no approved template is not an error (they get the kind's default language),
    but staff should know. Read from the synced templates: nothing before the first sync.
    """
    from .services.whatsapp_templates import missing_template_languages, template_mismatches

    try:
        mismatches, missing = template_mismatches(), missing_template_languages()
    except (DatabaseError, RuntimeError):  # no database yet (before migrate), or none allowed (tests)
        return []
    found = [
        checks.Warning(
            problem,
            hint="Make the kind's WhatsApp variables (or its published copy's) list the header's, the body's and "
            "the buttons' variables in that order, or change the template; then `manage.py whatsapp_templates sync`.",
            obj=problem.split(":", 1)[0],
            id="notifications.W015",
        )
        for problem in mismatches
    ]
    found += [
        checks.Warning(
            f"{kind!r} has no approved WhatsApp template in {language!r}, which {count} reader(s) use: they get it "
            f"in the kind's default language.",
            hint="Submit the template in that language for approval, then `manage.py whatsapp_templates sync`.",
            obj=kind,
            id="notifications.W016",
        )
        for kind, language, count in missing
    ]
    return found


@checks.register("settings")  # registered when the app imports this module (ready)
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every setting notifications reads can be read (E020-E047) and names known kinds, channels and
    models; a NOTIFICATIONS_* variable that names no setting is a typo (W017)."""
    errors = conf.check()
    failed = {error.id for error in errors}
    kinds = [kind.name for kind in all_kinds()]
    models = [model._meta.label_lower for model in apps.get_models()]
    # Each setting, what it names, among what, and what that is called.
    named = [
        (NotificationsConf.dispatch_concurrency, mapping(), Channel.values, "channel"),
        (NotificationsConf.rate_limits, mapping(), Channel.values, "channel"),
        (NotificationsConf.priorities, mapping(), kinds, "message kind"),
        (NotificationsConf.retention_keep_while_wanted, text_list(), kinds, "message kind"),
        (NotificationsConf.retention_count_by_subject, text_list(), models, "model"),
    ]
    for setting, read, known, what in named:
        raw = setting.raw()
        if raw is None or setting.check_id in failed:
            continue
        errors += [
            checks.Error(
                setting.error_text(raw, problem),
                hint=f"{what.capitalize()}s: {', '.join(sorted(known))}.",
                id=setting.check_id,
            )
            for problem in unknown(read(raw), known, what)
        ]
    return errors
