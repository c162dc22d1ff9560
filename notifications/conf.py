"""
The settings notifications reads, each with its one default (common.conf): the delivery ledger's
(settings.NOTIFICATIONS, one NOTIFICATIONS_<KEY> variable each) and WhatsApp's templates, prices and
limit. `manage.py check` reports a value that cannot be read (notifications.E020-E047, checks.py).

Other apps read it as `notifications.api.conf`.
"""

import re
from decimal import Decimal

from common.conf import Conf, Setting, amount, clock_time, mapping, number, text_list, whole

# A dispatch priority is stored in a PositiveSmallIntegerField.
MAX_PRIORITY = 32767
# Lower is claimed first; marketing kinds are 3 and every other kind 2 unless named here or in
# NOTIFICATIONS_PRIORITIES (which adds to these).
DEFAULT_PRIORITIES = {
    "session_15min": 0,
    "phone_code": 0,  # a student waits on the profile page for it
    "session_24h": 1,
    "payment_reminder": 3,
}


def _priorities(raw) -> dict[str, int]:
    return {**DEFAULT_PRIORITIES, **mapping(whole(maximum=MAX_PRIORITY))(raw)}


def _ledger(key: str, check_id: str, **options) -> Setting:
    return Setting("NOTIFICATIONS", key=key, variable=f"NOTIFICATIONS_{key}", check_id=check_id, **options)


def _content_sids(sids: dict) -> list[str]:
    return [
        f"{key}'s value {sid!r} is no Content SID (HX...)" for key, sid in sids.items() if not str(sid).startswith("HX")
    ]


def _template_names(names: dict) -> list[str]:
    return [
        f"{key}'s value {name!r} is no template name (lower-case letters, digits and _)"
        for key, name in names.items()
        if not (isinstance(name, str) and re.fullmatch(r"[a-z0-9_]+", name))
    ]


def hours(raw) -> tuple:
    """A span of the day, "HH:MM-HH:MM" (it may cross midnight: "21:00-08:00"); empty: none."""
    if isinstance(raw, tuple):
        return raw
    text = str(raw).strip()
    if not text:
        return ()
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError("not a span of the day like 21:00-08:00")
    start, end = clock_time(start), clock_time(end)
    if start == end:
        raise ValueError("a span that starts when it ends")
    return (start, end)


class NotificationsConf(Conf):
    prefixes = {"NOTIFICATIONS": "NOTIFICATIONS_"}
    unknown_id = "notifications.W017"

    # --- The delivery ledger ---------------------------------------------------------------------
    # Attempts before a transiently failing delivery is given up as failed.
    max_attempts = _ledger("MAX_ATTEMPTS", "notifications.E020", default=6, parse=whole(minimum=1))
    # Retry delay: BASE * 2**(attempt-1), capped, with jitter.
    retry_base_seconds = _ledger("RETRY_BASE_SECONDS", "notifications.E021", default=60, parse=whole(minimum=1))
    retry_max_seconds = _ledger("RETRY_MAX_SECONDS", "notifications.E022", default=3600, parse=whole(minimum=1))
    # A row left in 'sending' this long after its worker's last heartbeat (every quarter lease, while
    # the worker lives) is presumed crashed: `unknown` if it was inside a request, else queued again.
    sending_lease_seconds = _ledger("SENDING_LEASE_SECONDS", "notifications.E023", default=40, parse=whole(minimum=1))
    # Rows claimed per dispatch batch (enough for several requests in flight; rows a killed worker
    # never handed over go back to the queue after the lease; 0 claims nothing, as bench/memory.py's idle worker).
    dispatch_batch_size = _ledger("DISPATCH_BATCH_SIZE", "notifications.E024", default=500, parse=whole())
    # Emails in one request where the provider has a batch API (Postmark takes up to 500). What each
    # request costs besides its emails (the gate's queries, the hand-over, the HTTP round trip) is
    # shared by them: fifty cut our CPU per email by a third against ten, and a hundred by a further
    # tenth once the emails themselves got cheaper (bench/). A request whose answer is lost (a
    # timeout, a crash) leaves each of its emails `unknown` until reconciliation finds it at the
    # provider, so more would only widen that.
    emails_per_request = _ledger("EMAILS_PER_REQUEST", "notifications.E025", default=100, parse=whole(minimum=1))
    # Soft bounces to one address before it is suppressed (hard bounces suppress at once).
    soft_bounce_limit = _ledger("SOFT_BOUNCE_LIMIT", "notifications.E026", default=3, parse=whole(minimum=1))
    # Rows per INSERT when planning.
    plan_chunk_size = _ledger("PLAN_CHUNK_SIZE", "notifications.E027", default=2000, parse=whole(minimum=1))
    # A provider account that cannot send (bad credentials, no credit) pauses its channel: the first
    # try again after this many seconds, doubling up to RETRY_MAX_SECONDS.
    pause_base_seconds = _ledger("PAUSE_BASE_SECONDS", "notifications.E028", default=60, parse=whole(minimum=1))
    # A delivery run (and a reconciliation or retention run) stops after this long (the next run goes
    # on), so it ends within its minute.
    dispatch_run_seconds = _ledger("DISPATCH_RUN_SECONDS", "notifications.E029", default=50, parse=whole(minimum=1))
    # Reconciliation asks the provider about an `unknown` delivery once it is this old (its search catches up).
    reconcile_after_seconds = _ledger("RECONCILE_AFTER_SECONDS", "notifications.E030", default=120, parse=whole())
    # check_health fails while a delivery stays `unknown` longer than this.
    unknown_alert_minutes = _ledger("UNKNOWN_ALERT_MINUTES", "notifications.E031", default=30, parse=whole(minimum=1))
    # Provider requests in flight at once per worker and channel (threads, each its own connection;
    # 1: one at a time, in the worker's own thread). WhatsApp sends one message a request, so behind a
    # provider's latency a sender needs several in flight to reach its rate (RATE_LIMITS paces them
    # all); the sending threads only talk HTTP (what a backend reads from the database is read in the
    # worker's own thread: send.py).
    dispatch_concurrency = _ledger(
        "DISPATCH_CONCURRENCY",
        "notifications.E032",
        default={"email": 4, "whatsapp": 4},
        parse=mapping(whole(minimum=1)),
    )
    # Messages a second per channel ("whatsapp=20"; unset or 0: no limit), for providers that cap a
    # sender's rate (a Twilio WhatsApp sender: 10-80 a second, Meta's 80): counted in Redis and shared
    # by every worker on every machine when REDIS_URL is set, else per worker (ratelimit.py).
    rate_limits = _ledger("RATE_LIMITS", "notifications.E033", default={}, parse=mapping(number()))
    # Dispatch order by kind (lower first): "kind=priority,..." on top of DEFAULT_PRIORITIES.
    priorities = _ledger("PRIORITIES", "notifications.E034", default=DEFAULT_PRIORITIES, parse=_priorities)
    # Retention (the purge_old_records job): finished deliveries older than this many days are folded
    # into daily counts and removed with their history; pending, sending and unknown rows never are.
    retention_days = _ledger("RETENTION_DAYS", "notifications.E035", default=90, parse=whole(minimum=1))
    # Rows per delete statement (each its own short transaction).
    retention_batch_size = _ledger("RETENTION_BATCH_SIZE", "notifications.E036", default=5000, parse=whole(minimum=1))
    # Kinds whose message could be planned again while it is still wanted (a payment pending past its
    # last reminder step): their rows stay while the kind's still_wanted hook wants them.
    retention_keep_while_wanted = _ledger(
        "RETENTION_KEEP_WHILE_WANTED", "notifications.E037", default=["payment_reminder"], parse=text_list()
    )
    # Subject types (app_label.model) whose removed rows are counted per subject (campaign statistics
    # need who was emailed, and what the WhatsApp welcome of each converted lead cost).
    retention_count_by_subject = _ledger(
        "RETENTION_COUNT_BY_SUBJECT",
        "notifications.E038",
        default=["leads.lead", "leads.ctasubmission"],
        parse=text_list(),
    )

    # --- The attention budget (services/attention.py) -------------------------------------------
    # Quiet hours in each recipient's time zone, unless they chose their own: normal and low messages
    # wait for their end (critical ones never do). Empty: no quiet hours.
    quiet_hours = _ledger("QUIET_HOURS", "notifications.E044", default=hours("21:00-08:00"), parse=hours)
    # Marketing (low urgency) goes only inside this span of the recipient's day (the window Indian
    # rules set for promotional SMS, on every channel). Empty: any time outside quiet hours.
    marketing_hours = _ledger("MARKETING_HOURS", "notifications.E045", default=hours("10:00-21:00"), parse=hours)
    # Non-critical messages a recipient gets per local calendar day; past it they are folded into the
    # digest. 0: no cap.
    daily_cap = _ledger("DAILY_CAP", "notifications.E046", default=3, parse=whole())
    # The hour (0-23, local) the digest of folded messages goes, unless the student chose another.
    digest_hour = _ledger("DIGEST_HOUR", "notifications.E047", default=18, parse=whole(maximum=23))

    # --- WhatsApp ------------------------------------------------------------------------------
    # Meta's messaging limit: unique people a sender may start conversations with in 24 hours (250 for
    # a new sender, then 1000, 10000, 100000 as its tier grows). Dispatch holds back messages to numbers
    # not yet reached once it is used up (urgent kinds first). 0: no limit (Twilio senders have Meta's
    # limit too).
    whatsapp_daily_unique_recipients = Setting(
        "WHATSAPP_DAILY_UNIQUE_RECIPIENTS",
        variable="WHATSAPP_DAILY_UNIQUE_RECIPIENTS",
        check_id="notifications.E039",
        default=1000,
        parse=whole(),
    )
    # What a WhatsApp message costs, in INR, per Meta pricing category (India's rate card of
    # WHATSAPP_PRICES_DATE; update it when Meta's changes). Every category Meta's per-message pricing
    # names: marketing_lite (Marketing Messages Lite) is billed at the marketing rate;
    # authentication_international (a one-time code to an Indian number from a business abroad) has its
    # own rate (USD 0.028, about 2.30); a referral_conversion (from an ad) is free. Messages Meta marks
    # free (a reply in the service window) cost 0 whatever their category. The value replaces the
    # whole card: a category it leaves out costs 0.
    whatsapp_prices = Setting(
        "WHATSAPP_PRICES",
        variable="WHATSAPP_PRICES",
        check_id="notifications.E040",
        default={
            "utility": Decimal("0.115"),
            "marketing": Decimal("0.8631"),
            "marketing_lite": Decimal("0.8631"),
            "authentication": Decimal("0.115"),
            "authentication_international": Decimal("2.30"),
            "service": Decimal("0"),
            "referral_conversion": Decimal("0"),
        },
        parse=mapping(amount),
    )
    # The provider's own fee per message on top, in INR (Twilio: about 0.42, USD 0.005; Meta's Cloud API: 0).
    whatsapp_provider_fee = Setting(
        "WHATSAPP_PROVIDER_FEE",
        variable="WHATSAPP_PROVIDER_FEE",
        check_id="notifications.E041",
        default=Decimal("0"),
        parse=amount,
    )
    # Approved template (Twilio Content API) SID per message kind, or kind:language:
    # "session_24h=HX...,session_24h:hi=HX...".
    twilio_content_sids = Setting(
        "TWILIO_CONTENT_SIDS",
        variable="TWILIO_CONTENT_SIDS",
        check_id="notifications.E042",
        default={},
        parse=mapping(),
        problems=_content_sids,
    )
    # Approved template name per message kind (Meta's Cloud API): "session_24h=session_reminder,...".
    meta_whatsapp_templates = Setting(
        "META_WHATSAPP_TEMPLATES",
        variable="META_WHATSAPP_TEMPLATES",
        check_id="notifications.E043",
        default={},
        parse=mapping(),
        problems=_template_names,
    )


conf = NotificationsConf()
