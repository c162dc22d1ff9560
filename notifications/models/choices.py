"""The choices the notification models share: channels, categories, topics."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WHATSAPP = "whatsapp", "WhatsApp"


class Category(models.TextChoices):
    """How a message may be silenced: marketing opt-outs never silence transactional mail."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"
    ACCOUNT = "account", "Account"


class Topic(models.TextChoices):
    """What a person can opt out of on their preferences page."""

    REMINDERS = "reminders", "Class reminders and course updates"
    PAYMENTS = "payments", "Payment reminders"
    MARKETING = "marketing", "Offers and news"
    ACCOUNT = "account", "Account and security"  # cannot be turned off
