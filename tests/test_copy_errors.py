"""The copy editor shows every mistake of a template at once, in the sandbox's own words."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from lms.tests.factories import StaffUserFactory
from notifications.models import MessageTemplate

pytestmark = pytest.mark.django_db
BROKEN = (
    "Hi {{ first_name }},\n"
    "{% load static %}\n"
    "{% if title %}Your session{% endfor %}\n"
    "Code: {{ discount_code }}\n"
    "{{ when|no_such_filter }}\n"
    "{% buton url=join_url %}"
)


def test_every_mistake_of_a_template_is_shown_with_its_line_and_none_suggests_load():
    user = StaffUserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename="edit_message_copy"))
    client = Client()
    client.force_login(user)
    data = {"kind": "session_24h", "channel": "email", "language": "en", "subject": "S", "text": BROKEN}
    data |= {"html": "", "whatsapp_content_sid": "", "whatsapp_variables": "", "note": "", "_save": "Save"}

    response = client.post(reverse("admin:notifications_messagetemplate_add"), data)

    assert response.status_code == 200 and not MessageTemplate.objects.exists()
    errors = response.context["adminform"].form.errors["text"]
    lines = [int(re.match(r"Line (\d+):", error).group(1)) for error in errors]
    assert lines == sorted(lines) and {2, 3, 4, 5, 6} <= set(lines), errors
    page = response.content.decode()
    assert "{% load %} is not allowed" in page and "“discount_code” does not exist" in page
    assert "{% endfor %} is out of place" in page and "Invalid filter: &#x27;no_such_filter&#x27;" in page
    assert "{% buton %} is not allowed here (is it misspelt?)" in page
    assert "Did you forget" not in page and "register or load" not in page
