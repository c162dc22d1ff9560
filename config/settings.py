"""
Settings, read from the environment (12-factor). The defaults fail closed: production rules apply
unless DJANGO_ENV says development or test.

Every variable is listed in `.env.example`. A `.env` file beside manage.py is read
when present; real environment variables win over it.
"""

import datetime as dt
import os
from pathlib import Path

import csp.constants as csp
import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_group(prefix: str, *, lower: bool = False) -> dict[str, str]:
    """Return the variables named PREFIX<KEY> that are set, as written, by KEY (lower-cased with `lower`).

    The settings an app parses (numbers, lists, key=value pairs) are kept here as written: the app's
    `conf` holds their defaults and reads them, and its system check names a value it cannot read,
    so a typo fails `manage.py check` instead of stopping the site from starting (common/conf.py).
    """
    return {
        (name.removeprefix(prefix).lower() if lower else name.removeprefix(prefix)): env.str(name)
        for name in sorted(os.environ)
        if name.startswith(prefix) and len(name) > len(prefix)
    }


# Fail closed: with DJANGO_ENV unset the production rules apply (a real SECRET_KEY, an https
# SITE_URL, DEBUG off). Development conveniences (a default secret, debug pages) need
# DJANGO_ENV=development or test, which the Makefile, the test set-up and .env.example set.
DJANGO_ENV = env.str("DJANGO_ENV", default="production").strip().lower() or "production"
IS_DEVELOPMENT = DJANGO_ENV in {"development", "test"}
DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")

if IS_DEVELOPMENT:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-change-me-0123456789")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and DJANGO_ENV is {DJANGO_ENV!r} (unset means production). Set SECRET_KEY, "
            "or DJANGO_ENV=development on a development machine (the Makefile does)."
        )
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production: unset DEBUG or set DJANGO_ENV=development.")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if IS_DEVELOPMENT else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of this site, used for every link in every message: required in production,
# and https there (an http link would carry unsubscribe and sign-in tokens in clear text).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000" if IS_DEVELOPMENT else "").strip().rstrip("/")
if not IS_DEVELOPMENT and not SITE_URL.lower().startswith("https://"):
    raise ImproperlyConfigured(
        "SITE_URL must be the site's https address in production (e.g. https://school.example.com); "
        + (f"it is {SITE_URL!r}." if SITE_URL else "it is not set.")
    )
SITE_NAME = env.str("SITE_NAME", default="CourseHub")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "anymail",
    "django_q",
    "axes",
    "csp",
    # Ours, lowest layer first: automation -> leads -> lms -> notifications -> common.
    "common",
    "notifications",
    "lms",
    "leads",
    "automation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in person's own language wins over what their browser asks for.
    "notifications.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.site",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# SQLite is the zero-setup default; PostgreSQL (psycopg 3) in production and CI.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, cron) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "lms.User"
# The login throttle first: it refuses a locked-out username and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "config.security.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Times are stored in UTC; this is the default zone for display and for new users.
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Kolkata")
USE_I18N = True
USE_TZ = True
# Shipped languages (pages translated in locale/, messages shipped); staff add more for messages
# in the admin (notifications.Language). People's language defaults to English.
LANGUAGES = [("en", "English"), ("hi", "हिन्दी (Hindi)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Publishing a change to a marketing message's copy needs a second staff member's approval.
TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING = env.bool("TEMPLATE_APPROVAL_REQUIRED_FOR_MARKETING", default=False)
# The locale money and dates are formatted in when a user has none (Babel names).
DEFAULT_LOCALE = env.str("DEFAULT_LOCALE", default="en_IN")
# Phone numbers typed without a country code are read in this region.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="IN")
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="INR")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and not IS_DEVELOPMENT
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production) ----------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not IS_DEVELOPMENT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not IS_DEVELOPMENT)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not IS_DEVELOPMENT)
# A load balancer probes /health/ over plain HTTP inside the network (it answers no secret).
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if IS_DEVELOPMENT else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not IS_DEVELOPMENT)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not IS_DEVELOPMENT)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# Proxies in front of the app that append the client's address to X-Forwarded-For (a load
# balancer, a platform router): 0 trusts no header and takes the connection's address. Set it to
# exactly the number of your proxies, or a client can choose the address it is counted under.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# The rule behind proxies: X-Forwarded-For counts only when the proxy vouches for the request. The
# proxy sets TRUSTED_PROXY_SECRET_HEADER to one of TRUSTED_PROXY_SECRET (comma-separated, for
# rotation); a request without it (a client that reached the app directly) is counted under its
# connection's address. Without a secret, `check --deploy` fails unless TRUSTED_PROXY_ONLY_WAY_IN
# states that nothing reaches the app but through the proxy (config.security.client_ip_address).
TRUSTED_PROXY_SECRETS = env.list("TRUSTED_PROXY_SECRET", default=[])
TRUSTED_PROXY_SECRET_HEADER = env.str("TRUSTED_PROXY_SECRET_HEADER", default="X-Proxy-Secret")
TRUSTED_PROXY_ONLY_WAY_IN = env.bool("TRUSTED_PROXY_ONLY_WAY_IN", default=False)

# Login throttling (django-axes) on /accounts/login/ and /admin/login/: after LOGIN_FAILURE_LIMIT
# failed attempts for one username from one client address, that username is locked for that
# address, right password included, for LOGIN_COOLOFF_MINUTES after the last try. Staff lift a
# lockout by deleting its row in the admin (Axes → Access attempts).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login form posts the email as "username" (AuthenticationForm); the same address in
# another case is the same account, so it counts against the same lock.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "config.security.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.security.lockout_response"
# The client's address, X-Forwarded-For only from requests the proxy vouched for (the rule above).
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip_address"
# The client address as the last trusted proxy saw it (python-ipware counts the proxies after
# the client in X-Forwarded-For, hence one less); never a header with no proxy in front.
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# Read X-Forwarded-For from the right: garbage a client puts at its left is skipped, not a reason
# to fall back to the proxy's own address (which every client shares).
IPWARE_STRICT = False

# Content-Security-Policy (django-csp): scripts, styles, images, fonts and form posts only from
# this site; no inline script unless it carries the request's nonce (request.csp_nonce). Style
# attributes (style="...") stay allowed: they cannot run code, and img-src/font-src keep them
# from loading anything from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF],
        "style-src-attr": [csp.UNSAFE_INLINE],
        "img-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        **({"report-uri": [env.str("CSP_REPORT_URI")]} if env.str("CSP_REPORT_URI", default="") else {}),
    },
}

# --- Outgoing email --------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{SITE_NAME} <hello@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# MOCK_MODE (the seed's name): nothing leaves the machine. It is on by default whenever no
# provider credentials are configured; setting it to true forces it even when they are.
MAIL_DIR = BASE_DIR / "var" / "mail"
WHATSAPP_DIR = BASE_DIR / "var" / "whatsapp"

ANYMAIL = {
    key: value
    for key, value in {
        "POSTMARK_SERVER_TOKEN": env.str("POSTMARK_SERVER_TOKEN", default=""),
        "POSTMARK_API_URL": env.str("POSTMARK_API_URL", default=""),
        "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
        "SENDGRID_API_KEY": env.str("SENDGRID_API_KEY", default=""),
        "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY", default=""),
        "MAILGUN_SENDER_DOMAIN": env.str("MAILGUN_SENDER_DOMAIN", default=""),
        # Mailgun signs its webhooks with this key; its tracking webhook refuses events without it.
        "MAILGUN_WEBHOOK_SIGNING_KEY": env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
        # Basic-auth secrets for the tracking webhooks; several, comma-separated, for rotation.
        "WEBHOOK_SECRET": env.list("ANYMAIL_WEBHOOK_SECRET", default=[]),
        "REQUESTS_TIMEOUT": env.float("EMAIL_TIMEOUT", default=15.0),
    }.items()
    if value
}
_ESP_BACKENDS = [
    ("POSTMARK_SERVER_TOKEN", "anymail.backends.postmark.EmailBackend"),
    ("BREVO_API_KEY", "anymail.backends.brevo.EmailBackend"),
    ("MAILGUN_API_KEY", "anymail.backends.mailgun.EmailBackend"),
    ("SENDGRID_API_KEY", "anymail.backends.sendgrid.EmailBackend"),
]
_esp_backend = next((backend for key, backend in _ESP_BACKENDS if ANYMAIL.get(key)), None)
# The one provider whose tracking webhook is mounted, at /anymail/<esp>/tracking/ (the others
# answer 404): the anymail provider chosen by its key or by EMAIL_BACKEND, or EMAIL_TRACKING_ESP
# (anymail's name: postmark, brevo, mailgun, sendgrid, amazon_ses...). None without a provider.
_backend_module = (env.str("EMAIL_BACKEND", default="") or _esp_backend or "").split(".")
EMAIL_TRACKING_ESP = env.str(
    "EMAIL_TRACKING_ESP",
    default=_backend_module[2] if _backend_module[:2] == ["anymail", "backends"] and len(_backend_module) > 2 else "",
)
_has_twilio = bool(env.str("TWILIO_ACCOUNT_SID", default="") and env.str("TWILIO_AUTH_TOKEN", default=""))
_has_meta = bool(
    env.str("META_WHATSAPP_ACCESS_TOKEN", default="") and env.str("META_WHATSAPP_PHONE_NUMBER_ID", default="")
)
MOCK_MODE = env.bool(
    "MOCK_MODE", default=not (_esp_backend or _has_twilio or _has_meta or env.str("EMAIL_BACKEND", default=""))
)

if MOCK_MODE:
    EMAIL_BACKEND = "notifications.channels.eml_file.EmailBackend"  # one .eml file per message
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=_esp_backend or "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=MAIL_DIR)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=15.0)

# Postmark's message streams: marketing email (the lead campaign) goes through a broadcast stream,
# never in the same requests as transactional mail (Postmark's rules; it protects reminders'
# deliverability). Empty transactional stream: the server's default ("outbound").
POSTMARK_BROADCAST_STREAM = env.str("POSTMARK_BROADCAST_STREAM", default="broadcast")
POSTMARK_TRANSACTIONAL_STREAM = env.str("POSTMARK_TRANSACTIONAL_STREAM", default="")

# --- WhatsApp (Twilio) -----------------------------------------------------------------------
if MOCK_MODE:
    WHATSAPP_BACKEND = "notifications.channels.whatsapp.file.WhatsAppBackend"
else:
    WHATSAPP_BACKEND = env.str(
        "WHATSAPP_BACKEND",
        default="notifications.channels.whatsapp.meta.WhatsAppBackend"
        if _has_meta
        else "notifications.channels.whatsapp.twilio.WhatsAppBackend"
        if _has_twilio
        else "notifications.channels.whatsapp.console.WhatsAppBackend",
    )
WHATSAPP_FILE_PATH = env.path("WHATSAPP_FILE_PATH", default=WHATSAPP_DIR)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# The sender: a WhatsApp-enabled number ("+14155238886") or a Messaging Service SID ("MG...").
TWILIO_WHATSAPP_FROM = env.str("TWILIO_WHATSAPP_FROM", default="")
# Approved template (Content API) SID per message kind: "session_24h=HX...,payment_reminder=HX..."
# (read by notifications/conf.py, as the settings below that name it).
TWILIO_CONTENT_SIDS = env.str("TWILIO_CONTENT_SIDS", default=None)
# Where Twilio posts status callbacks; empty means SITE_URL + the webhook's path.
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default="")
# Only for tests and proxies: send Twilio API calls to this base URL instead of api.twilio.com.
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=15.0)

# --- WhatsApp (Meta's Cloud API, without Twilio) ----------------------------------------------
# A system user's permanent token and the sending number's id (WhatsApp Manager > API setup).
META_WHATSAPP_ACCESS_TOKEN = env.str("META_WHATSAPP_ACCESS_TOKEN", default="")
META_WHATSAPP_PHONE_NUMBER_ID = env.str("META_WHATSAPP_PHONE_NUMBER_ID", default="")
# The WhatsApp Business Account: its approved templates are listed from it.
META_WHATSAPP_BUSINESS_ACCOUNT_ID = env.str("META_WHATSAPP_BUSINESS_ACCOUNT_ID", default="")
# The app secret signs every webhook (X-Hub-Signature-256); the verify token answers Meta's
# subscription handshake. Without them the webhook refuses everything.
META_WHATSAPP_APP_SECRET = env.str("META_WHATSAPP_APP_SECRET", default="")
META_WHATSAPP_VERIFY_TOKEN = env.str("META_WHATSAPP_VERIFY_TOKEN", default="")
# Approved template name per message kind: "session_24h=session_reminder,payment_reminder=payment_due".
META_WHATSAPP_TEMPLATES = env.str("META_WHATSAPP_TEMPLATES", default=None)
# The templates' language when a recipient has none (Meta's code: en, en_US, hi...).
META_WHATSAPP_DEFAULT_LANGUAGE = env.str("META_WHATSAPP_DEFAULT_LANGUAGE", default="en")
META_GRAPH_API_URL = env.str("META_GRAPH_API_URL", default="https://graph.facebook.com/v21.0")
META_TIMEOUT = env.float("META_TIMEOUT", default=15.0)
# Meta's messaging limit (unique people a sender may reach in 24 hours), what a WhatsApp message costs
# per Meta pricing category and the provider's fee on top: notifications/conf.py holds their defaults.
WHATSAPP_DAILY_UNIQUE_RECIPIENTS = env.str("WHATSAPP_DAILY_UNIQUE_RECIPIENTS", default=None)
WHATSAPP_PRICES = env.str("WHATSAPP_PRICES", default=None)
# The date of the rate card WHATSAPP_PRICES copies (shown with the costs; Meta revises it a few times a year).
WHATSAPP_PRICES_DATE = env.str("WHATSAPP_PRICES_DATE", default="2026-01-01")
WHATSAPP_PROVIDER_FEE = env.str("WHATSAPP_PROVIDER_FEE", default=None)

# --- The delivery ledger ---------------------------------------------------------------------
# Every NOTIFICATIONS_<KEY> variable (retries, leases, batches, concurrency, rate limits, priorities,
# retention): notifications/conf.py holds each one's default and what it means.
NOTIFICATIONS = env_group("NOTIFICATIONS_")
# Signed tokens in unsubscribe links stay valid this long.
UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS = env.int("UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS", default=365)

# --- Automation ------------------------------------------------------------------------------
# A job's schedule ("payment_reminders=daily@10:00,session_reminders_24h=every:10"), retention and the
# scheduler's stall limit: automation/conf.py holds the defaults.
AUTOMATION_SCHEDULES = env.str("AUTOMATION_SCHEDULES", default=None)
AUTOMATION_JOB_LOG_RETENTION_DAYS = env.str("AUTOMATION_JOB_LOG_RETENTION_DAYS", default=None)
AUTOMATION_TASK_RETENTION_DAYS = env.str("AUTOMATION_TASK_RETENTION_DAYS", default=None)
AUTOMATION_SCHEDULER_STALL_SECONDS = env.str("AUTOMATION_SCHEDULER_STALL_SECONDS", default=None)
AUTOMATION_WORKER_STALE_SECONDS = env.str("AUTOMATION_WORKER_STALE_SECONDS", default=None)
AUTOMATION_METRICS_TOKEN = env.str("AUTOMATION_METRICS_TOKEN", default=None)
AUTOMATION_SPARE_WORKERS = env.str("AUTOMATION_SPARE_WORKERS", default=None)
# Days after creation on which a pending payment is reminded ("3" once; "3,7,14"): lms/conf.py.
PAYMENT_REMINDER_DAYS = env.str("PAYMENT_REMINDER_DAYS", default=None)
# Minutes after a session's start after which "we're live, join now" is no longer sent: lms/conf.py.
LIVE_NUDGE_MINUTES = env.str("LIVE_NUDGE_MINUTES", default=None)
# The reach ladder (lms/reach.py, lms/conf.py): reached this long before a session, its steps, their
# wait, and the hold-out share that gets no escalation and no live nudge.
REACH_MINUTES = env.str("REACH_MINUTES", default=None)
REACH_LADDER = env.str("REACH_LADDER", default=None)
REACH_WAIT_MINUTES = env.str("REACH_WAIT_MINUTES", default=None)
REACH_HOLDOUT_PERCENT = env.str("REACH_HOLDOUT_PERCENT", default=None)

# --- Onboarding ------------------------------------------------------------------------------
# The set-password link in the welcome email works once, for this many days.
SET_PASSWORD_LINK_DAYS = env.int("SET_PASSWORD_LINK_DAYS", default=7)
# One set-password email per address in this many minutes; asking again re-uses the one sent.
SET_PASSWORD_EMAIL_INTERVAL_MINUTES = env.int("SET_PASSWORD_EMAIL_INTERVAL_MINUTES", default=15)
# Limits on the anonymous doors that send a message or store a row, RATE_LIMIT_<DOOR> ("count/period":
# s, m, h, d; "1/15m" is once in 15 minutes): common/throttle.py holds the doors and their defaults.
RATE_LIMITS = env_group("RATE_LIMIT_", lower=True)
# A number typed on the profile joins the account once the code sent to it is entered: the code
# works for this many minutes, and this many wrong tries void it (ask for a new one).
PHONE_CODE_MINUTES = env.int("PHONE_CODE_MINUTES", default=10)
PHONE_CODE_MAX_ATTEMPTS = env.int("PHONE_CODE_MAX_ATTEMPTS", default=5)
# Welcome calls, WELCOME_CALL_<KEY>: working days and hours in the student's time zone (leads/conf.py).
WELCOME_CALL = env_group("WELCOME_CALL_", lower=True)

# --- Lead campaign ---------------------------------------------------------------------------
# The Day 7 offer, LEAD_OFFER_<KEY>: a discount and premium resources, valid for some days after the
# email (leads/conf.py).
LEAD_OFFER = env_group("LEAD_OFFER_", lower=True)
# Limits on an uploaded leads CSV.
LEAD_IMPORT_MAX_BYTES = env.int("LEAD_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
LEAD_IMPORT_MAX_ROWS = env.int("LEAD_IMPORT_MAX_ROWS", default=100_000)
# Columns in the file, and characters a lead keeps from the columns other than name, email and phone
# (a row over it is reported invalid). A cell over csv's own limit, 131,072 characters, is too.
LEAD_IMPORT_MAX_COLUMNS = env.int("LEAD_IMPORT_MAX_COLUMNS", default=50)
LEAD_EXTRA_DATA_MAX_CHARS = env.int("LEAD_EXTRA_DATA_MAX_CHARS", default=10_000)
# Signed references to a lead in campaign links stay valid this long after the email is sent.
LEAD_REF_MAX_AGE_DAYS = env.int("LEAD_REF_MAX_AGE_DAYS", default=90)

# --- Workers (django-q2) ---------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="coursehub"),
    "workers": env.int("Q_WORKERS", default=2),
    # A task runs at most `timeout` seconds; it is retried after `retry` seconds: retry > timeout
    # so a slow task is never run twice at once.
    "timeout": env.int("Q_TIMEOUT", default=540),
    "retry": env.int("Q_RETRY", default=600),
    "max_attempts": 1,
    # Our rules catch up from state; replaying every missed schedule would only add noise.
    "catch_up": False,
    "save_limit": 500,
    "poll": env.float("Q_POLL", default=1.0),
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# django-q2's broker, with a queue of each cluster's own read before the shared one (delivery shares
# go to the cluster meant to run them: automation/brokers.py).
Q_CLUSTER["broker_class"] = "automation.brokers.RedisBroker" if REDIS_URL else "automation.brokers.OrmBroker"

# --- Cache -----------------------------------------------------------------------------------
# Rate-limit counters live here, so every process must see the same cache. CACHE_URL wins (e.g.
# redis://host:6379/1, or locmemcache:// for one process); else Redis at REDIS_URL; else files
# in var/cache/, shared by every process of one machine with nothing to set up. Several machines
# without Redis would each count apart: give them REDIS_URL or CACHE_URL.
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(env.path("CACHE_DIR", default=BASE_DIR / "var" / "cache")),
        }
    }
CACHES["default"].setdefault("KEY_PREFIX", env.str("CACHE_KEY_PREFIX", default="coursehub"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
