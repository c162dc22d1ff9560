"""Offers on WhatsApp have one control on the preferences page, the marketing consent, and it
agrees with what the sending gate does (consent given and the topic not turned off)."""

import pytest
from django.urls import reverse

from lms.tests.factories import UserFactory
from notifications.models import Channel, NotificationPreference, Topic, WhatsAppConsent
from notifications.services.consent import record_whatsapp_consent

pytestmark = pytest.mark.django_db
URL = reverse("notifications:preferences")


def form(user, **changes):
    data = {f"{topic}_email": "on" for topic in ("reminders", "payments", "marketing")}
    data |= {"reminders_whatsapp": "on", "payments_whatsapp": "on", "whatsapp_opt_in": "yes"}
    data |= {"phone": user.phone, "timezone": user.timezone} | changes
    return {key: value for key, value in data.items() if value is not None}


def test_consent_given_but_offers_turned_off_shows_unticked_and_ticking_turns_them_on(client):
    user = UserFactory(phone="+919876543210", whatsapp_opt_in=True)
    record_whatsapp_consent(address=user.phone, category="marketing", given=True, source="test", user=user)
    NotificationPreference.objects.create(user=user, topic=Topic.MARKETING, channel=Channel.WHATSAPP, enabled=False)
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert 'name="marketing_whatsapp"' not in page  # no second control for the same thing
    assert 'id="id_whatsapp_marketing_opt_in" checked' not in page
    assert "Off: see below" in page

    response = client.post(URL, form(user, whatsapp_marketing_opt_in="on"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert NotificationPreference.objects.get(topic=Topic.MARKETING, channel=Channel.WHATSAPP).enabled
    page = client.get(URL).content.decode()
    assert 'id="id_whatsapp_marketing_opt_in" checked' in page
    assert "On: see below" in page


def test_unticking_withdraws_the_consent_and_saving_unchanged_writes_no_rows(client):
    user = UserFactory(phone="+919876543211", whatsapp_opt_in=True)
    client.force_login(user)
    client.post(URL, form(user))
    assert not NotificationPreference.objects.exists()
    assert not WhatsAppConsent.objects.filter(category="marketing", given=True).exists()
    page = client.get(URL).content.decode()
    assert "Given before we kept a record of when" not in page  # the save recorded the reminders consent
    assert page.count("Given on") == 1
