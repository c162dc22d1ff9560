"""Removing people from the ledger: their messages and the suppressions of their addresses (the
demo's reset, before it seeds the same people again)."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from ..models import Delivery, Suppression


@transaction.atomic
def delete_messages_of(*, recipients, addresses: Iterable[str]) -> int:
    """Delete the deliveries to `recipients` (accounts: a query or a list) or to `addresses`, with
    their history, and the suppressions of `addresses`; return how many rows went.

    Call it before deleting the accounts: a delivery outlives its recipient (SET_NULL)."""
    addresses = list(addresses)
    deleted, _ = Delivery.objects.filter(Q(recipient__in=recipients) | Q(to_address__in=addresses)).delete()
    return deleted + Suppression.objects.filter(address__in=addresses).delete()[0]
