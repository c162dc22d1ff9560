"""
What a WhatsApp message costs. Meta bills per message (its per-message pricing model): each
delivered template message by its pricing category, at a rate per country (WHATSAPP_PRICES,
in INR, India's rate card of settings.WHATSAPP_PRICES_DATE by default), except the free ones its
status webhook marks `billable: false` or with a free pricing type (`free_customer_service`: a
reply inside the window the person opened; `free_entry_point`: a conversation opened from an ad
or a Facebook page button). Twilio adds its own fee per message (WHATSAPP_PROVIDER_FEE).
Recorded on each sent message, so a campaign's return counts what its WhatsApp messages cost.
"""

from decimal import Decimal

from ..conf import conf
from ..kinds import MessageKind
from ..models import Category, WhatsAppCategory


def whatsapp_category(kind: MessageKind) -> str:
    """The pricing category a kind's WhatsApp messages are billed as."""
    if kind.reply:
        return WhatsAppCategory.SERVICE  # free-form, in the window the person's message opened
    return WhatsAppCategory.MARKETING if kind.category == Category.MARKETING else WhatsAppCategory.UTILITY


def whatsapp_cost(category: str, *, billable: bool = True, pricing_type: str = "") -> Decimal:
    """The estimated cost (INR) of one message of `category`, as Meta's pricing marks it."""
    free = not billable or pricing_type.lower().startswith("free")
    price = Decimal("0") if free else conf.whatsapp_prices.get(category.lower(), Decimal("0"))
    return price + conf.whatsapp_provider_fee
