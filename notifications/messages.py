"""The message kinds notifications sends itself: confirmations of WhatsApp keywords."""

from .kinds import MessageKind, register
from .models import Category, Channel, Topic

WHATSAPP_STOPPED = register(
    MessageKind(
        name="whatsapp_stopped",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.WHATSAPP,),
        reply=True,
        description="Confirms a STOP sent on WhatsApp: no more WhatsApp messages to that number.",
    )
)
WHATSAPP_STARTED = register(
    MessageKind(
        name="whatsapp_started",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.WHATSAPP,),
        reply=True,
        description="Confirms a START sent on WhatsApp: WhatsApp messages resume.",
    )
)
WHATSAPP_MARKETING_STOPPED = register(
    MessageKind(
        name="whatsapp_marketing_stopped",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.WHATSAPP,),
        reply=True,
        description="Confirms a “Stop promotions” on WhatsApp: no more offers there; reminders go on.",
    )
)
WHATSAPP_MARKETING_STARTED = register(
    MessageKind(
        name="whatsapp_marketing_started",
        category=Category.ACCOUNT,
        topic=Topic.ACCOUNT,
        channels=(Channel.WHATSAPP,),
        reply=True,
        description="Confirms that offers on WhatsApp resume for the number.",
    )
)
