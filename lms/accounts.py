"""
Set-password links for new students: single use, signed, expiring (never a password by email).

Django's password-reset token with its own salt and lifetime: it embeds the password hash and
last login, so it stops working once used. An expired or used link leads to a page where the
student can ask for a new one.
"""

import datetime as dt
from enum import Enum

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from notifications.formatting import format_when
from notifications.services.dispatch import dispatch_deliveries
from notifications.services.planning import PlannedMessage, Recipient, plan_messages

from . import messages
from .models import User


class TokenState(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # forged, or already used


class SetPasswordTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "lms.accounts.SetPasswordTokenGenerator"

    def state(self, user, token: str) -> TokenState:
        """Tell a valid token from an expired one and from a forged or used one."""
        try:
            ts = base36_to_int(token.split("-")[0])
        except (ValueError, AttributeError):
            return TokenState.INVALID
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return TokenState.INVALID
        age = self._num_seconds(self._now()) - ts
        return TokenState.EXPIRED if age > lifetime().total_seconds() else TokenState.VALID

    def check_token(self, user, token):
        return bool(user and token) and self.state(user, token) is TokenState.VALID


set_password_tokens = SetPasswordTokenGenerator()


def lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings.SET_PASSWORD_LINK_DAYS)


def set_password_url(*, user: User) -> str:
    """Return an absolute, single-use link for `user` to choose a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = set_password_tokens.make_token(user)
    return f"{settings.SITE_URL}{reverse('set_password', args=[uid, token])}"


def link_context(*, user: User, now: dt.datetime | None = None) -> dict:
    """The set-password link and when it expires, for a message's context."""
    expires = (now or timezone.now()) + lifetime()
    return {
        "set_password_url": set_password_url(user=user),
        "link_expires": format_when(expires, tz=user.timezone, locale=user.locale),
        "login_url": f"{settings.SITE_URL}{reverse('login')}",
    }


@transaction.atomic
def send_new_set_password_link(*, email: str, now: dt.datetime | None = None) -> bool:
    """Email a fresh set-password link to the account with `email`; say whether there was one."""
    now = now or timezone.now()
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        return False
    result = plan_messages(
        kind=messages.SET_PASSWORD_LINK.name,
        now=now,
        collect_ids=True,
        messages=[
            PlannedMessage(
                recipient=Recipient.for_user(user),
                event_key=f"{user.pk}@{now:%Y%m%dT%H%M%S%f}",
                context={"email": user.email, **link_context(user=user, now=now)},
                subject_type="lms.user",
                subject_id=user.pk,
            )
        ],
    )
    ids = list(result.delivery_ids)
    transaction.on_commit(lambda: dispatch_deliveries(ids=ids))
    return True
