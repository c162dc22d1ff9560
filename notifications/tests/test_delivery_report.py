import io

import pytest
from django.core.management import call_command

from notifications.models import Delivery, DeliveryEvent

pytestmark = pytest.mark.django_db


def report() -> str:
    out = io.StringIO()
    call_command("delivery_report", stdout=out)
    return out.getvalue()


def test_the_report_says_how_many_pending_messages_the_attention_budget_holds():
    held = Delivery.objects.create_single(kind="session_24h", channel="email", to_address="asha@example.com")
    Delivery.objects.create_single(kind="session_24h", channel="email", to_address="ravi@example.com")
    assert "attention budget" not in report()

    DeliveryEvent.objects.create(delivery=held, status="pending", detail="held_quiet_hours: Held: quiet hours.")
    DeliveryEvent.objects.create(delivery=held, status="pending", detail="held_quiet_hours: Held again.")
    assert "Held by the attention budget: 1 pending" in report()
