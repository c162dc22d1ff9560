"""
Factories for the notifications models.

notifications imports no other app of ours, so the user factory here builds
`settings.AUTH_USER_MODEL` with the fields the channels rely on (email, name, phone,
WhatsApp opt-in); `lms.tests.factories.UserFactory` extends it with the rest.
"""

import datetime as dt
import functools

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from django.utils.text import slugify

from notifications.models import (
    Category,
    Channel,
    Delivery,
    DeliveryEvent,
    Notification,
    NotificationPreference,
    Suppression,
    Topic,
)

# The password every factory-made user can log in with (unless a test passes its own).
TEST_PASSWORD = "correct-horse-battery-staple"


@functools.lru_cache(maxsize=16)
def _hash_password(raw: str) -> str:
    return make_password(raw)


def hash_password(raw: str | None) -> str:
    """Return a password hash, computed once per raw password: hashing is slow on purpose."""
    # Tests build thousands of users; hashing each one would take minutes.
    return make_password(None) if raw is None else _hash_password(raw)


def email_for(name: str, n: int, *, domain: str = "example.com") -> str:
    """Return a unique, readable address for a person ("asha.verma.7@example.com")."""
    local = slugify(name).replace("-", ".") or "user"
    return f"{local}.{n}@{domain}"


def indian_mobile(n: int) -> str:
    """Return the n-th valid Indian mobile number in E.164 (+9198xxxxxxxx)."""
    return f"+9198{n % 10**8:08d}"


class UserFactory(factory.django.DjangoModelFactory):
    """A person with an email address and an Indian mobile number, not opted in to WhatsApp."""

    class Meta:
        model = settings.AUTH_USER_MODEL

    name = factory.Faker("name", locale="en_IN")
    email = factory.LazyAttributeSequence(lambda o, n: email_for(o.name, n))
    phone = factory.Sequence(indian_mobile)
    whatsapp_opt_in = False
    password = factory.Transformer(TEST_PASSWORD, transform=hash_password)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    kind = "session_24h"
    title = "Starts Tomorrow: Python Basics"
    message = "Your session “Python Basics” starts tomorrow at 10:00 am."
    link = "https://meet.example.com/python-basics"
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        read = factory.Trait(read_at=factory.LazyFunction(timezone.now))


class DeliveryFactory(factory.django.DjangoModelFactory):
    """A pending 24-hour session reminder by email."""

    class Meta:
        model = Delivery

    kind = "session_24h"
    channel = Channel.EMAIL
    recipient = factory.SubFactory(UserFactory)
    # Each its own event (MessageEvent, made with the row), so every row is unique.
    event_key = factory.LazyAttributeSequence(lambda o, n: f"{o.kind}:{n}@20261125T0430")
    subject_type = "lms.livesession"
    subject_id = factory.Sequence(lambda n: n + 1)
    to_address = factory.LazyAttribute(
        lambda o: o.recipient.phone if o.channel == Channel.WHATSAPP else o.recipient.email
    )
    context = factory.LazyAttribute(
        lambda o: {
            "first_name": (o.recipient.name or "there").split(" ")[0] if o.recipient else "there",
            "title": "Python Basics",
            "when": "Wed, 25 Nov 2026, 10:00 am IST",
            "day_label": "Tomorrow",
            "day_phrase": "tomorrow",
            "join_url": "https://meet.example.com/python-basics",
        }
    )
    status = Delivery.Status.PENDING
    next_attempt_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        whatsapp = factory.Trait(channel=Channel.WHATSAPP)
        sent = factory.Trait(
            status=Delivery.Status.SENT,
            attempts=1,
            sent_at=factory.LazyFunction(timezone.now),
            provider_message_id=factory.Sequence(lambda n: f"msg-{n:08d}"),
            rendered_subject="Starts Tomorrow: Python Basics",
        )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """The row and its event (`Delivery.objects.create_single`); on the event given, if one is."""
        if "event" in kwargs or "event_id" in kwargs:
            for name in ("kind", "event_key", "subject_type", "subject_id"):
                kwargs.pop(name)
            return model_class.objects.create(*args, own_context=kwargs.pop("context"), **kwargs)
        return model_class.objects.create_single(*args, **kwargs)


class DeliveryEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryEvent

    delivery = factory.SubFactory(DeliveryFactory, sent=True)
    at = factory.LazyFunction(timezone.now)
    status = Delivery.Status.SENT
    detail = "Accepted by the provider."


class SuppressionFactory(factory.django.DjangoModelFactory):
    """A hard bounce: the address gets no email of any category."""

    class Meta:
        model = Suppression

    channel = Channel.EMAIL
    address = factory.Sequence(lambda n: f"bounced.{n}@example.com")
    category = Suppression.ALL_CATEGORIES
    reason = Suppression.Reason.BOUNCED
    detail = "550 5.1.1 The email account that you tried to reach does not exist."
    created_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))

    class Params:
        unsubscribed = factory.Trait(
            category=Category.MARKETING, reason=Suppression.Reason.UNSUBSCRIBED, detail="One-click unsubscribe."
        )


class NotificationPreferenceFactory(factory.django.DjangoModelFactory):
    """A user who turned marketing email off."""

    class Meta:
        model = NotificationPreference

    user = factory.SubFactory(UserFactory)
    topic = Topic.MARKETING
    channel = Channel.EMAIL
    enabled = False
