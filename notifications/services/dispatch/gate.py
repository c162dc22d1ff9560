"""
The gate: is a message still wanted at the moment its request goes out?

Asked for the few rows of one provider request, just before it is handed over, so a session
cancelled, a payment paid or an address suppressed while a batch was being worked through stops
the messages not yet sent. A few queries per request, none per row.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model

from common.phones import is_valid_e164

from ...kinds import get_kind
from ...models import Channel, Delivery, NotificationPreference, Suppression
from ..consent import marketing_consent_given
from ..holds import held_subjects

Status = Delivery.Status


@dataclass(frozen=True)
class Verdict:
    """Why a message must not go out, and the status it ends in."""

    status: str  # Delivery.Status: suppressed, cancelled, expired or held
    reason: str  # for the history and the run's counts, e.g. "suppressed_bounced", "cancelled_session_cancelled"


def stopped_deliveries(deliveries: list[Delivery], *, now: datetime) -> dict[int, Verdict]:
    """Return, for the rows of `deliveries` that must not go out now, why."""
    if not deliveries:
        return {}
    # Staff held the event or its subject (the outbox): rows planned after the hold wait, held, for a release.
    held = held_subjects(deliveries)
    verdicts: dict[int, Verdict] = {
        d.pk: Verdict(Status.HELD, "held_by_staff")
        for d in deliveries
        if d.event.held_at or (d.event.subject_type, d.event.subject_id) in held
    }
    for kind_name in {d.kind for d in deliveries}:
        kind = get_kind(kind_name)
        if kind.still_wanted:
            unwanted = kind.hook("still_wanted")([d for d in deliveries if d.kind == kind_name])
            verdicts.update({pk: Verdict(Status.CANCELLED, f"cancelled_{reason}") for pk, reason in unwanted.items()})
    remaining = [d for d in deliveries if d.pk not in verdicts]
    if not remaining:
        return verdicts

    suppressed = {
        (channel, address, category): reason
        for channel, address, category, reason in Suppression.objects.filter(
            channel__in={d.channel for d in remaining}, address__any={d.to_address for d in remaining}
        ).values_list("channel", "address", "category", "reason")
    }
    user_ids = {d.recipient_id for d in remaining if d.recipient_id}
    opted_out = (
        set(
            NotificationPreference.objects.filter(user_id__any=user_ids, enabled=False).values_list(
                "user_id", "topic", "channel"
            )
        )
        if user_ids
        else set()
    )
    whatsapp_users = {d.recipient_id for d in remaining if d.recipient_id and d.channel == Channel.WHATSAPP}
    users = get_user_model().objects.in_bulk(whatsapp_users) if whatsapp_users else {}
    marketing_numbers = {
        d.to_address for d in remaining if d.channel == Channel.WHATSAPP and get_kind(d.kind).is_marketing
    }
    consented = marketing_consent_given(addresses=marketing_numbers) if marketing_numbers else set()

    for delivery in remaining:
        verdict = _verdict(delivery, suppressed, opted_out, users, consented)
        if verdict is None and delivery.expiry and delivery.expiry <= now:
            verdict = Verdict(Status.EXPIRED, "expired")
        if verdict:
            verdicts[delivery.pk] = verdict
    return verdicts


def _verdict(delivery: Delivery, suppressed: dict, opted_out: set, users: dict, consented: set) -> Verdict | None:
    kind = get_kind(delivery.kind)
    if kind.reply:  # a STOP's confirmation goes to the number that just opted out: only its shape counts
        invalid = delivery.channel == Channel.WHATSAPP and not is_valid_e164(delivery.to_address)
        return Verdict(Status.SUPPRESSED, "whatsapp_invalid_number") if invalid else None
    for category in (Suppression.ALL_CATEGORIES, kind.category):
        reason = suppressed.get((delivery.channel, delivery.to_address, category))
        if reason:
            return Verdict(Status.SUPPRESSED, f"suppressed_{reason}")
    if kind.can_opt_out and (delivery.recipient_id, kind.topic, delivery.channel) in opted_out:
        return Verdict(Status.SUPPRESSED, "opted_out")
    if delivery.channel == Channel.WHATSAPP:
        user = users.get(delivery.recipient_id)
        if kind.is_marketing:  # offers on WhatsApp need their own consent, whatever else was given
            if delivery.to_address not in consented:
                return Verdict(Status.SUPPRESSED, "whatsapp_no_marketing_consent")
        elif user is not None and not getattr(user, "whatsapp_opt_in", False):
            return Verdict(Status.SUPPRESSED, "whatsapp_not_opted_in")
        if not is_valid_e164(delivery.to_address):
            return Verdict(Status.SUPPRESSED, "whatsapp_invalid_number")
    return None
