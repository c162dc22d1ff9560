"""Staff see a student's or lead's messages and bounces on their admin page."""

import pytest

from leads.tests.factories import LeadFactory
from lms.tests.factories import UserFactory
from notifications.models import Suppression
from notifications.tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db


def test_a_students_bouncing_address_and_messages_show_on_their_page(admin_client):
    student = UserFactory(email="bounce@example.com")
    DeliveryFactory(recipient=student, to_address="bounce@example.com", kind="session_24h", status="bounced")
    Suppression.objects.create(channel="email", address="bounce@example.com", reason="bounced")

    page = admin_client.get(f"/admin/lms/user/{student.pk}/change/").content.decode()
    assert "Not receiving:" in page and "bounce@example.com (Email): Bounced" in page
    assert "session_24h" in page and "Bounced" in page


def test_a_leads_messages_show_on_its_page(admin_client):
    lead = LeadFactory(email="lead@example.com")
    DeliveryFactory(recipient=None, to_address="lead@example.com", kind="lead_day0", status="sent")
    page = admin_client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "lead_day0" in page and "No messages yet." not in page
