"""Forgot-password goes through the ledger and works for students who never set a password."""

import re

import pytest
from django.core import mail

from lms.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_forgot_password_emails_a_set_password_link_through_the_ledger(client, django_capture_on_commit_callbacks):
    student = UserFactory(email="nisha@example.com", password=None)
    assert not student.has_usable_password()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password_reset/", {"email": "Nisha@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    message = mail.outbox[0]
    assert message.subject == "Your link to set a password"
    link = re.search(r"https://school\.example(/accounts/set-password/\S+/\S+/)", message.body).group(1)
    assert "Choose your password" in client.get(link).content.decode()
    from notifications.models import Delivery

    assert Delivery.objects.get().kind == "set_password_link"


def test_forgot_password_for_an_unknown_address_says_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password_reset/", {"email": "ghost@example.com"})
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []
