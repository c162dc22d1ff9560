"""The set-password link in chromium at 390 px: no request line holds its token, with or without scripts."""

import pytest
from django.core import mail
from django.core.signals import request_started
from playwright.sync_api import expect

from lms.models import User
from lms.tests.factories import UserFactory
from lms.tests.links import LINK
from notifications.services.dispatch import dispatch_due_deliveries
from tests.security.test_csp_browser import LISTEN

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-new-long-passphrase-42"


@pytest.fixture
def request_lines():
    """What the server's access log would show of each request: its path and query string."""
    lines = []

    def record(sender, environ, **kwargs):
        lines.append(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}?{environ.get('QUERY_STRING', '')}")

    request_started.connect(record, dispatch_uid="test.request_lines")
    yield lines
    request_started.disconnect(dispatch_uid="test.request_lines")


def emailed_link(live_server) -> tuple[str, str]:
    """Ask for a link as a student would, let the worker send it; return its URL on the live server and its token."""
    student = UserFactory(email="nisha@example.com", name="Nisha Rao", password=None)
    from lms.accounts import request_set_password_link

    request_set_password_link(email=student.email)
    dispatch_due_deliveries()
    path, token = LINK.search(mail.outbox[-1].body).groups()
    return f"{live_server.url}{path}#{token}", token


def phone_page(browser, live_server, **options):
    context = browser.new_context(base_url=live_server.url, **PHONE, **options)
    context.set_default_timeout(10_000)
    context.add_init_script(LISTEN)
    return context, context.new_page()


def test_the_links_script_posts_its_token_which_no_request_line_holds(browser, live_server, request_lines):
    link, token = emailed_link(live_server)
    context, page = phone_page(browser, live_server)
    try:
        page.goto(link)
        expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
        assert token not in page.url  # gone from the address bar and the history
        assert page.evaluate("window.__violations") == []  # the static script runs under the CSP
        page.locator("input[name=new_password1]").fill(PASSWORD)
        page.locator("input[name=new_password2]").fill(PASSWORD)
        page.get_by_role("button", name="Set password and log in").click()
        expect(page.get_by_role("heading", name="Hi Nisha")).to_be_visible()
    finally:
        context.close()
    assert User.objects.get(email="nisha@example.com").check_password(PASSWORD)
    assert any(line.startswith("POST /accounts/set-password/") for line in request_lines)
    assert not [line for line in request_lines if token in line]


def test_without_scripts_pasting_the_link_opens_it_and_no_request_line_holds_the_token(
    browser, live_server, request_lines
):
    link, token = emailed_link(live_server)
    context, page = phone_page(browser, live_server, java_script_enabled=False)
    try:
        page.goto(link)
        expect(page.get_by_text("Paste the whole link from your email here")).to_be_visible()
        page.get_by_label("The link from your email").fill(link)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    finally:
        context.close()
    assert not [line for line in request_lines if token in line]
