"""
The one door into `notifications`: what the other apps (lms, leads, automation) may use.

An app declares its messages with `notifications.kinds` (MessageKind, register) and does
everything else through the names below; the modules behind them are notifications' own and may
move. import-linter holds every other app to this door (`.importlinter`).

- Plan: `plan_messages` for one event's recipients, `plan_audience` for an audience read by one
  query; `first_name` is what a message calls a person.
- Send and stop: `send_now` (the rows just planned, right away), `dispatch_due_deliveries` (the
  worker's job), `cancel_for_subject`.
- Read about an app's own subjects (live rows and the counts retention kept):
  `delivery_counts_for_subjects`, `send_times_for_subjects`, `count_subjects_sent_to`,
  `spend_for_subjects`, `recipients_sent_about`, `recipients_reached`, `delivery_id_for_subject`; one person's:
  `message_planned_since`, `planned_message_status`. The values they compare with:
  `DeliveryStatus`, `SuppressionReason`, `WhatsAppConsentCategory`.
- People: languages, WhatsApp consent and contact, preferences from a page; the suppressions and
  consents a query needs (`marketing_suppressions`, `whatsapp_marketing_consents`).
- The staff console: `daily_delivery_figures` (per day, kind and channel, live and purged) and
  `figures_by`; `waiting_deliveries` and `subjects_on_hold` (the outbox); `hold_messages`, `release_messages`,
  `cancel_messages` (one event's or one person's, with a reason on each row's history).
- The attention budget: `plan_digests` (the digest of folded messages, at each student's hour),
  `attention_counts` (its holds, folds and digests per day, for the jobs page).
- The reach ladder (lms.reach): `ladder_steps`, `recipients_with_receipt`, `reminders_on_their_way`,
  `recipients_read`, `channels_with_receipts`, `plan_ladder_step`, `note_delivery`, `cancel_waiting_steps`; the
  `delivery_status_changed` signal a provider's receipt sends (a `DeliveryChange`), `LADDER_STEP` (a step's
  event key: "<key>:step<n>").
- Operator: reconcile, retention, `ledger_health`, `count_due_deliveries`, `oldest_due_delivery_at`,
  `count_unknown_deliveries`; the metrics' and health endpoint's `backlog`, `in_flight_and_unknown`,
  `paused_channels`, `dispatch_totals`, `shared_redis`; the demo's reset (`delete_messages_of`, `count_suppressions`).

The ledger's models are not here: a question about them is a function, named for what it answers.
"""

from common.languages import DEFAULT_LANGUAGE

from .admin import render_delivery_timeline
from .attention_counts import attention_counts
from .conf import conf
from .dashboard import FIGURES as DELIVERY_FIGURES
from .dashboard import DayFigures, daily_delivery_figures, figures_by, subjects_on_hold, waiting_deliveries
from .forms import WhatsAppContactMixin
from .kinds import INAPP, MessageKind, register
from .languages import LanguageField, available_languages, language_of, validate_language
from .markers import day_marker, day_words
from .models import Category, Channel, Delivery, Suppression, Topic, WhatsAppConsent
from .reach import recipients_reached
from .recipients import first_name
from .selectors import (
    MARKETING_SUPPRESSION_SCOPES,
    LedgerHealth,
    count_due_deliveries,
    count_subjects_sent_to,
    count_suppressions,
    count_unknown_deliveries,
    delivery_counts_for_subjects,
    delivery_id_for_subject,
    ledger_health,
    marketing_suppressions,
    message_planned_since,
    oldest_due_delivery_at,
    planned_message_status,
    recipients_sent_about,
    send_times_for_subjects,
    spend_for_subjects,
    whatsapp_marketing_consents,
)
from .services.audiences import Audience, Group, plan_audience
from .services.consent import record_whatsapp_consent
from .services.digest import plan_digests
from .services.dispatch import DispatchResult, dispatch_deliveries, dispatch_due_deliveries
from .services.dispatch.limits import held_back
from .services.dispatch.ratelimit import shared_redis
from .services.dispatch.stats import backlog, dispatch_totals, in_flight_and_unknown, paused_channels
from .services.erasure import delete_messages_of
from .services.feedback import ProviderEvent, apply_provider_event
from .services.holds import cancel_messages, hold_messages, release_messages
from .services.inbound import account_for_number
from .services.planning import PlannedMessage, PlanResult, Recipient, plan_messages
from .services.preferences import record_page_consent, whatsapp_contact
from .services.reconcile import ReconcileResult, reconcile_unknown_deliveries
from .services.retention import RetentionResult, purge_old_deliveries, purge_rows
from .services.subjects import cancel_for_subject
from .services.unsubscribe import resolve_unsubscribe_token, unsubscribe
from .services.whatsapp_templates import has_whatsapp_template
from .signals import whatsapp_consent_changed
from .tokens import make_unsubscribe_token

# The values other apps compare with or pass on (a delivery's status, a suppression's reason, a
# WhatsApp consent's category), without the models that hold them.
DeliveryStatus = Delivery.Status
SuppressionReason = Suppression.Reason
WhatsAppConsentCategory = WhatsAppConsent.Category

__all__ = [
    "DEFAULT_LANGUAGE",
    "DELIVERY_FIGURES",
    "INAPP",
    "MARKETING_SUPPRESSION_SCOPES",
    "Audience",
    "Category",
    "Channel",
    "DayFigures",
    "DeliveryStatus",
    "DispatchResult",
    "Group",
    "LanguageField",
    "LedgerHealth",
    "MessageKind",
    "PlanResult",
    "PlannedMessage",
    "ProviderEvent",
    "Recipient",
    "ReconcileResult",
    "RetentionResult",
    "SuppressionReason",
    "Topic",
    "WhatsAppConsentCategory",
    "WhatsAppContactMixin",
    "account_for_number",
    "apply_provider_event",
    "attention_counts",
    "available_languages",
    "backlog",
    "cancel_for_subject",
    "cancel_messages",
    "conf",
    "count_due_deliveries",
    "count_subjects_sent_to",
    "count_suppressions",
    "count_unknown_deliveries",
    "daily_delivery_figures",
    "day_marker",
    "day_words",
    "delete_messages_of",
    "delivery_counts_for_subjects",
    "delivery_id_for_subject",
    "dispatch_deliveries",
    "dispatch_due_deliveries",
    "dispatch_totals",
    "figures_by",
    "first_name",
    "has_whatsapp_template",
    "held_back",
    "hold_messages",
    "in_flight_and_unknown",
    "language_of",
    "ledger_health",
    "make_unsubscribe_token",
    "marketing_suppressions",
    "message_planned_since",
    "oldest_due_delivery_at",
    "paused_channels",
    "plan_audience",
    "plan_digests",
    "plan_messages",
    "planned_message_status",
    "purge_old_deliveries",
    "purge_rows",
    "recipients_reached",
    "recipients_sent_about",
    "reconcile_unknown_deliveries",
    "record_page_consent",
    "record_whatsapp_consent",
    "register",
    "release_messages",
    "render_delivery_timeline",
    "resolve_unsubscribe_token",
    "send_times_for_subjects",
    "shared_redis",
    "spend_for_subjects",
    "subjects_on_hold",
    "unsubscribe",
    "validate_language",
    "waiting_deliveries",
    "whatsapp_consent_changed",
    "whatsapp_contact",
    "whatsapp_marketing_consents",
]

# The reach ladder (lms.reach): its steps on the ledger, and the signal a provider's receipt sends.
from .reach import STEP as LADDER_STEP  # noqa: E402
from .reach import (  # noqa: E402
    LadderStep,
    ladder_steps,
    recipients_read,
    recipients_with_receipt,
    reminders_on_their_way,
)
from .services.ladder import DeliveryChange, cancel_waiting_steps, note_delivery, plan_ladder_step  # noqa: E402
from .signals import delivery_status_changed  # noqa: E402
from .webhooks.receipts import channels_with_receipts  # noqa: E402

__all__ += [
    "LADDER_STEP",
    "DeliveryChange",
    "LadderStep",
    "cancel_waiting_steps",
    "channels_with_receipts",
    "delivery_status_changed",
    "ladder_steps",
    "note_delivery",
    "plan_ladder_step",
    "recipients_read",
    "recipients_with_receipt",
    "reminders_on_their_way",
]
