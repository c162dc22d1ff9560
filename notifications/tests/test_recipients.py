"""Each rule about a recipient is written once (notifications.recipients): its Python side and its
SQL side agree on every database, and both planning paths count the recipients they skip alike."""

from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db.models import CharField, F, IntegerField, Value
from django.db.models.functions import Cast

from notifications.models import Delivery, Notification
from notifications.recipients import (
    FirstName,
    first_name,
    recipient_ref,
    recipient_ref_expression,
    stored_language,
    stored_language_expression,
)
from notifications.services.audiences import plan_audience
from notifications.services.planning import PlannedMessage, Recipient, plan_messages

from .helpers import NOW
from .test_audiences import KIND, audience, one_by_one, people  # noqa: F401 (people: a fixture)

pytestmark = pytest.mark.django_db
NAMES = ["Asha Verma", "Ravi", "", " Meera", "Kiran  Das", "José María", "आशा वर्मा"]


def test_the_first_name_is_the_same_in_python_and_in_sql():
    User = get_user_model()
    for number, name in enumerate(NAMES):
        User.objects.create_user(email=f"p{number}@example.com", password=None, name=name)
    rows = User.objects.order_by("pk").values_list("name", FirstName("name"))

    assert [(name, first_name(name)) for name in NAMES] == list(rows)
    assert [first_name(name) for name in NAMES] == ["Asha", "Ravi", "there", "there", "Kiran", "José", "आशा"]


def test_the_reference_and_the_stored_language_are_the_same_in_python_and_in_sql():
    User = get_user_model()
    languages = ["en", "hi", "", "ta"]
    for number, language in enumerate(languages):
        User.objects.create_user(email=f"Person{number}@Example.com", password=None, language=language)
    accounts = User.objects.order_by("pk").values_list("pk", "email", "language")
    rows = User.objects.order_by("pk").values(
        "email", "language", recipient_id=F("pk"), no_account=Cast(Value(None), output_field=IntegerField())
    )
    rows = rows.annotate(
        ref=recipient_ref_expression("recipient_id", "email"),
        lead_ref=recipient_ref_expression("no_account", "email"),
        stored=stored_language_expression("language"),
    )

    assert [(row["ref"], row["lead_ref"], row["stored"] or "") for row in rows] == [
        (recipient_ref(pk, email), recipient_ref(None, email), stored_language(language))
        for pk, email, language in accounts
    ]
    assert [stored_language(language) for language in languages] == ["", "hi", "", "ta"]
    assert recipient_ref(None, "Person0@Example.com") == "person0@example.com"


def test_the_stored_language_of_a_missing_language_is_none_in_sql():
    get_user_model().objects.create_user(email="x@example.com", password=None)
    rows = get_user_model().objects.values(nothing=Cast(Value(None), output_field=CharField()))
    assert rows.annotate(stored=stored_language_expression("nothing")).get()["stored"] is None


def test_both_planning_paths_count_the_same_skips_on_a_first_run_and_none_on_a_second(people):  # noqa: F811
    # One by one, the same event twice.
    first = plan_messages(kind=KIND, messages=one_by_one(people), now=NOW)
    again = plan_messages(kind=KIND, messages=one_by_one(people), now=NOW)
    dry_again = plan_messages(kind=KIND, messages=one_by_one(people), now=NOW, dry_run=True)
    Delivery.objects.all().delete()
    Notification.objects.all().delete()
    # The same recipients and event as one audience, twice.
    audience_first = plan_audience(kind=KIND, audience=audience(), now=NOW)
    audience_again = plan_audience(kind=KIND, audience=audience(), now=NOW)

    # Ravi and Meera have not opted in to WhatsApp; Kiran has, with a number that is no number.
    expected = Counter(whatsapp_not_opted_in=2, whatsapp_invalid_number=1)
    assert first.skipped == audience_first.skipped == expected
    assert again.skipped == dry_again.skipped == audience_again.skipped == Counter()
    assert again.total == audience_again.total == 0


def test_people_without_an_account_are_skipped_once_per_event_by_both_paths():
    leads = [
        Recipient(user_id=None, email="lead1@example.com", name="Lead One", phone="+919876543210"),
        Recipient(user_id=None, email="lead2@example.com", name="Lead Two", whatsapp_opt_in=True, phone="123"),
    ]
    messages = [PlannedMessage(recipient=lead, event_key=str(number), context={}) for number, lead in enumerate(leads)]

    first = plan_messages(kind="lead_day0", messages=messages, now=NOW)
    again = plan_messages(kind="lead_day0", messages=messages, now=NOW)

    assert first.skipped == Counter(whatsapp_not_opted_in=1, whatsapp_invalid_number=1)
    assert again.skipped == Counter()
    assert (first.planned["email"], again.planned["email"]) == (2, 0)
