"""
The one door into `notifications`: what the other apps (lms, leads, automation) may use.

An app declares its messages with `notifications.kinds` (MessageKind, register) and does
everything else through the names below; the modules behind them are notifications' own and may
move. import-linter holds every other app to this door (`.importlinter`).

- Plan: `plan_messages` for one event's recipients, `plan_audience` for an audience read by one
  query; `first_name` is what a message calls a person.
- Send and stop: `send_now` (the rows just planned, right away), `dispatch_due_deliveries` (the
  worker's job), `cancel_deliveries`.
- Read: `delivery_counts_for_subjects`, `count_due_deliveries`, `oldest_due_delivery_at`, the
  ledger's models for the operator's reports.
- People: languages, WhatsApp consent and contact, preferences from a page.
- Operator jobs: reconcile, retention.
"""

from common.languages import DEFAULT_LANGUAGE

from .admin import render_delivery_timeline
from .conf import conf
from .forms import WhatsAppContactMixin
from .kinds import INAPP, MessageKind, register
from .languages import LanguageField, available_languages, language_of, validate_language
from .markers import day_marker, day_words
from .models import (
    Category,
    Channel,
    ChannelPause,
    Delivery,
    DeliveryDailyCount,
    Suppression,
    Topic,
    WhatsAppConsent,
    WhatsAppTemplate,
)
from .recipients import first_name
from .selectors import count_due_deliveries, oldest_due_delivery_at
from .services.audiences import Audience, Group, plan_audience
from .services.consent import record_whatsapp_consent
from .services.dispatch import DispatchResult, dispatch_deliveries, dispatch_due_deliveries
from .services.dispatch.limits import held_back
from .services.feedback import ProviderEvent, apply_provider_event
from .services.inbound import account_for_number
from .services.ledger import cancel_deliveries
from .services.planning import PlannedMessage, PlanResult, Recipient, plan_messages
from .services.preferences import record_page_consent, whatsapp_contact
from .services.reconcile import ReconcileResult, reconcile_unknown_deliveries
from .services.retention import RetentionResult, purge_old_deliveries, purge_rows
from .services.unsubscribe import resolve_unsubscribe_token, unsubscribe
from .services.whatsapp_templates import has_whatsapp_template
from .signals import whatsapp_consent_changed
from .tokens import make_unsubscribe_token

__all__ = [
    "DEFAULT_LANGUAGE",
    "INAPP",
    "Audience",
    "Category",
    "Channel",
    "ChannelPause",
    "Delivery",
    "DeliveryDailyCount",
    "DispatchResult",
    "Group",
    "LanguageField",
    "MessageKind",
    "PlanResult",
    "PlannedMessage",
    "ProviderEvent",
    "Recipient",
    "ReconcileResult",
    "RetentionResult",
    "Suppression",
    "Topic",
    "WhatsAppConsent",
    "WhatsAppContactMixin",
    "WhatsAppTemplate",
    "account_for_number",
    "apply_provider_event",
    "available_languages",
    "cancel_deliveries",
    "conf",
    "count_due_deliveries",
    "day_marker",
    "day_words",
    "dispatch_deliveries",
    "dispatch_due_deliveries",
    "first_name",
    "has_whatsapp_template",
    "held_back",
    "language_of",
    "make_unsubscribe_token",
    "oldest_due_delivery_at",
    "plan_audience",
    "plan_messages",
    "purge_old_deliveries",
    "purge_rows",
    "reconcile_unknown_deliveries",
    "record_page_consent",
    "record_whatsapp_consent",
    "register",
    "render_delivery_timeline",
    "resolve_unsubscribe_token",
    "unsubscribe",
    "validate_language",
    "whatsapp_consent_changed",
    "whatsapp_contact",
]
