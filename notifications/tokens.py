"""Signed, expiring, opaque tokens for unsubscribe links (they carry a delivery id, not an address)."""

from django.conf import settings
from django.core import signing

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def make_unsubscribe_token(*, delivery_id: int) -> str:
    """Return a token that identifies the delivery whose recipient wants out."""
    return signing.dumps(delivery_id, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> int:
    """Return the delivery id in `token`; raise signing.BadSignature when forged or expired."""
    max_age = settings.UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS * 24 * 3600
    value = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=max_age)
    if not isinstance(value, int):
        raise signing.BadSignature("Malformed unsubscribe token.")
    return value
