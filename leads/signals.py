"""What leads hears from notifications: a new suppression may end a lead's campaign."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from notifications.api import MARKETING_SUPPRESSION_SCOPES, Channel

from .optouts import record_lead_opt_outs


# The model by its label: other apps reach notifications through its api only, which names no model.
@receiver(post_save, sender="notifications.Suppression", dispatch_uid="leads.record_lead_opt_outs")
def lead_address_suppressed(sender, instance, created: bool, **kwargs) -> None:
    """Record an unsubscribe or bounce on the lead with this address (same transaction)."""
    if created and instance.channel == Channel.EMAIL and instance.category in MARKETING_SUPPRESSION_SCOPES:
        record_lead_opt_outs(addresses=[instance.address], now=instance.created_at)
