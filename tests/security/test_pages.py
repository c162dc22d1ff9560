"""Pages under a Content-Security-Policy, with no inline script; HEAD works where uptime monitors look."""

import re
from html.parser import HTMLParser

import pytest

from lms.tests.factories import EnrollmentFactory, LiveSessionFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


class InlineCode(HTMLParser):
    """Collect what a strict script-src refuses: inline scripts without the nonce, on* handlers, javascript: URLs."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce = nonce
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and (not self.nonce or attrs.get("nonce") != self.nonce):
            self.found.append(f"inline <script> without the nonce: {attrs}")
        if tag == "style" and (not self.nonce or attrs.get("nonce") != self.nonce):
            self.found.append("inline <style> without the nonce")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"event handler {name}= on <{tag}>")
            url_attribute = name in ("href", "src", "action", "formaction")
            if url_attribute and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_code(response) -> list[str]:
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    parser = InlineCode(nonce.group(1) if nonce else None)
    parser.feed(response.content.decode())
    return parser.found


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/start/")
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert directives["script-src"][0] == "'self'"
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]


@pytest.fixture
def student_client(client):
    student = UserFactory(email="meera@example.com")
    enrollment = EnrollmentFactory(student=student)
    LiveSessionFactory(course=enrollment.course)
    client.force_login(student)
    return client


STUDENT_PAGES = ["/", "/notifications/", "/preferences/"]
PUBLIC_PAGES = ["/start/", "/accounts/login/", "/accounts/password_reset/", "/admin/login/"]
ADMIN_PAGES = [
    "/admin/",
    "/admin/notifications/delivery/",
    "/admin/leads/ctasubmission/",
    "/admin/leads/importbatch/",
    "/admin/lms/user/",
    "/admin/lms/user/add/",
    "/admin/axes/accessattempt/",
    "/admin/automation/jobs/",
]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_have_no_inline_script(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert inline_code(response) == []


@pytest.mark.parametrize("url", STUDENT_PAGES)
def test_student_pages_have_no_inline_script(student_client, url):
    response = student_client.get(url)
    assert response.status_code == 200
    assert inline_code(response) == []


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_have_no_inline_script(client, url):
    client.force_login(StaffUserFactory(superuser=True))
    response = client.get(url)
    assert response.status_code == 200
    assert inline_code(response) == []


def test_the_inline_code_check_sees_inline_code(client):
    response = client.get("/start/")
    response.content = b'<script>alert(1)</script><a href="javascript:x()" onclick="y()">z</a>'
    assert len(inline_code(response)) == 3


@pytest.mark.parametrize("url", ["/start/", "/accounts/login/", "/"])
def test_head_answers_like_get_for_uptime_monitors(client, url):
    get = client.get(url)
    head = client.head(url)
    assert head.status_code == get.status_code
    assert head.status_code in (200, 302)
    assert head.content == b""
