"""
The one door for outgoing messages: in-app notifications, the delivery ledger, opt-outs.

`Delivery` is the ledger (outbox): one row per (event, recipient, channel), unique by those
three integers (`MessageEvent` names the event once for all its rows). That row, not a flag on a
session or a payment, is what "already sent" means. See shared/DESIGN.md, "The delivery ledger".

The models live by topic in the modules of this package; every one is importable from here.
"""

from .attention import AttentionPreference
from .choices import Category, Channel, Topic
from .copy import Language, MessageTemplate, TemplateChannel
from .counts import DeliveryDailyCount
from .holds import SubjectHold
from .inapp import Notification
from .ledger import Delivery, DeliveryEvent, DeliveryManager, MessageEvent, MessageGroup
from .people import NotificationPreference, Suppression, WhatsAppConsent
from .whatsapp import ChannelPause, InboundMessage, WhatsAppCategory, WhatsAppTemplate

__all__ = [
    "AttentionPreference",
    "Category",
    "Channel",
    "ChannelPause",
    "Delivery",
    "DeliveryDailyCount",
    "DeliveryEvent",
    "DeliveryManager",
    "InboundMessage",
    "Language",
    "MessageEvent",
    "MessageGroup",
    "MessageTemplate",
    "Notification",
    "NotificationPreference",
    "SubjectHold",
    "Suppression",
    "TemplateChannel",
    "Topic",
    "WhatsAppCategory",
    "WhatsAppConsent",
    "WhatsAppTemplate",
]
