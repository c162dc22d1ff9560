"""`manage.py check --deploy` refuses what would silently fail in production: mock mode, a proxy rule without proof."""

import pytest
from django.core import checks

from tests.security.test_production_defaults import PRODUCTION, _no_dot_env, run  # noqa: F401 - a fixture


def deploy_errors() -> set[str]:
    messages = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    return {message.id for message in messages if message.level >= checks.ERROR}


@pytest.mark.slow
@pytest.mark.usefixtures("_no_dot_env")
def test_check_deploy_fails_in_production_with_mock_mode_on():
    # No provider configured: mock mode is on by itself, and every message would go to a file.
    result = run(["manage.py", "check", "--deploy"], **PRODUCTION)
    assert result.returncode != 0
    assert "config.E003" in result.stderr and "MOCK_MODE is on in production" in result.stderr
    forced = run(["manage.py", "check", "--deploy"], POSTMARK_SERVER_TOKEN="pm", MOCK_MODE="true", **PRODUCTION)
    assert forced.returncode != 0 and "config.E003" in forced.stderr
    # A development machine may run in mock mode.
    assert "config.E003" not in run(["manage.py", "check", "--deploy"], DJANGO_ENV="development").stderr


def test_behind_a_proxy_check_deploy_needs_the_proxys_secret_or_the_statement_that_it_is_the_only_way_in(settings):
    settings.MOCK_MODE, settings.IS_DEVELOPMENT = False, False
    settings.SITE_URL, settings.ALLOWED_HOSTS = "https://school.example", ["school.example"]
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_SECRETS, settings.TRUSTED_PROXY_ONLY_WAY_IN = [], False
    assert "config.E004" in deploy_errors()
    settings.TRUSTED_PROXY_SECRETS = ["a-long-random-proxy-secret"]
    assert "config.E004" not in deploy_errors()
    settings.TRUSTED_PROXY_SECRETS, settings.TRUSTED_PROXY_ONLY_WAY_IN = [], True
    assert "config.E004" not in deploy_errors()
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXY_ONLY_WAY_IN = 0, False
    assert "config.E004" not in deploy_errors()
