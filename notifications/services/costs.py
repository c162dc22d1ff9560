"""
What a WhatsApp message costs: Meta bills each delivered template message by its category, at a
rate per country (settings.WHATSAPP_PRICES, in INR, India's rate card by default), and Twilio adds
its own fee per message (settings.WHATSAPP_PROVIDER_FEE). Recorded on each sent message, so a
campaign's return counts what its WhatsApp messages cost.
"""

from decimal import Decimal

from django.conf import settings

from ..kinds import MessageKind
from ..models import Category, WhatsAppCategory


def whatsapp_category(kind: MessageKind) -> str:
    """The pricing category a kind's WhatsApp messages are billed as."""
    if kind.reply:
        return WhatsAppCategory.SERVICE  # free-form, in the window the person's message opened
    return WhatsAppCategory.MARKETING if kind.category == Category.MARKETING else WhatsAppCategory.UTILITY


def whatsapp_cost(category: str, *, billable: bool = True) -> Decimal:
    """The estimated cost (INR) of one message of `category`."""
    price = Decimal(str(settings.WHATSAPP_PRICES.get(category, "0"))) if billable else Decimal("0")
    return price + Decimal(str(settings.WHATSAPP_PROVIDER_FEE))
