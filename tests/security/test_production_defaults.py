"""Fail closed by default: a process started with nothing set runs by production rules, or refuses to start."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 30 + "-not-a-real-key-but-long-enough-0123456789"
PRODUCTION = {"SECRET_KEY": SECRET, "SITE_URL": "https://school.example.com", "ALLOWED_HOSTS": "school.example.com"}
SHOW = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "env": s.DJANGO_ENV, "debug": s.DEBUG, "site_url": s.SITE_URL, "session_secure": s.SESSION_COOKIE_SECURE,
    "ssl_redirect": s.SECURE_SSL_REDIRECT, "hsts": s.SECURE_HSTS_SECONDS, "cache": s.CACHES["default"]["BACKEND"],
    "cache_location": str(s.CACHES["default"].get("LOCATION", "")),
    "ip_headers": list(s.AXES_IPWARE_META_PRECEDENCE_ORDER), "proxy_count": getattr(s, "AXES_IPWARE_PROXY_COUNT", None),
    "tracking_esp": s.EMAIL_TRACKING_ESP,
}))
"""


@pytest.fixture(autouse=True)
def _no_dot_env():
    if (ROOT / ".env").exists():
        pytest.skip("a .env file beside manage.py sets variables these tests need unset")


def run(args, **variables):
    """Run python with only PATH and `variables` in the environment (nothing inherited from the test run)."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **variables}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def show(**variables) -> dict:
    result = run(["-c", SHOW], **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_set_refuses_to_start_without_a_secret_key():
    result = run(["manage.py", "check"])
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "DJANGO_ENV=development" in result.stderr


def test_unset_django_env_means_production_rules():
    settings = show(**PRODUCTION)
    assert settings["env"] == "production"
    assert settings["debug"] is False
    assert settings["session_secure"] and settings["ssl_redirect"] and settings["hsts"] >= 31536000


@pytest.mark.parametrize(
    ("site_url", "says"),
    [(None, "it is not set"), ("http://school.example.com", "'http://school.example.com'"), ("school.example.com", "")],
)
def test_production_refuses_a_site_url_that_is_not_https(site_url, says):
    variables = {key: value for key, value in PRODUCTION.items() if key != "SITE_URL"}
    if site_url is not None:
        variables["SITE_URL"] = site_url
    result = run(["manage.py", "check"], **variables)
    assert result.returncode != 0
    assert "SITE_URL must be the site's https address" in result.stderr and says in result.stderr


def test_production_refuses_debug_and_a_short_secret_key():
    assert "DEBUG must be off" in run(["manage.py", "check"], DEBUG="true", **PRODUCTION).stderr
    short = run(["manage.py", "check"], **{**PRODUCTION, "SECRET_KEY": "short"})
    assert short.returncode != 0 and "at least 50 characters" in short.stderr


def test_development_must_be_asked_for_and_keeps_its_conveniences():
    settings = show(DJANGO_ENV="development")
    assert settings["debug"] is True
    assert settings["site_url"] == "http://localhost:8000"


def test_check_deploy_fails_when_a_provider_is_configured_without_a_webhook_secret():
    result = run(["manage.py", "check", "--deploy"], POSTMARK_SERVER_TOKEN="pm-token", **PRODUCTION)
    assert result.returncode != 0
    assert "notifications.E002" in result.stderr and "ANYMAIL_WEBHOOK_SECRET" in result.stderr

    with_secret = run(
        ["manage.py", "check", "--deploy"],
        POSTMARK_SERVER_TOKEN="pm-token",
        ANYMAIL_WEBHOOK_SECRET="hooks:long-random-secret",
        **PRODUCTION,
    )
    assert "notifications.E002" not in with_secret.stderr + with_secret.stdout
    assert with_secret.returncode == 0, with_secret.stderr


def test_the_tracking_webhook_follows_the_configured_provider():
    assert show(**PRODUCTION)["tracking_esp"] == ""
    assert show(POSTMARK_SERVER_TOKEN="pm", **PRODUCTION)["tracking_esp"] == "postmark"
    assert show(MAILGUN_API_KEY="mg", **PRODUCTION)["tracking_esp"] == "mailgun"
    assert show(EMAIL_BACKEND="anymail.backends.amazon_ses.EmailBackend", **PRODUCTION)["tracking_esp"] == "amazon_ses"


def test_the_cache_is_shared_by_the_machines_processes_or_redis():
    default = show(**PRODUCTION)
    assert default["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert default["cache_location"] == str(ROOT / "var" / "cache")
    assert show(REDIS_URL="redis://127.0.0.1:6379/3", **PRODUCTION)["cache"].endswith("redis.RedisCache")
    chosen = show(REDIS_URL="redis://127.0.0.1:6379/3", CACHE_URL="locmemcache://", **PRODUCTION)
    assert chosen["cache"].endswith("locmem.LocMemCache")


def test_the_client_address_comes_from_forwarded_for_only_behind_trusted_proxies():
    assert show(**PRODUCTION)["ip_headers"] == ["REMOTE_ADDR"]
    behind_two = show(TRUSTED_PROXY_COUNT="2", **PRODUCTION)
    assert behind_two["ip_headers"] == ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    assert behind_two["proxy_count"] == 1
