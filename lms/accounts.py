"""
Set-password links for new students: single use, signed, expiring (never a password by email).

Django's password-reset token with its own salt and lifetime: it embeds the password hash and
last login, so it stops working once used. An expired or used link leads to a page where the
student can ask for a new one.
"""

import datetime as dt
import re
from enum import Enum

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from common.formatting import format_when, reader_locale
from notifications.api import Channel, PlannedMessage, Recipient, first_name, message_planned_since, plan_messages

from .models import User

# What Django's password-reset tokens look like: a base-36 time stamp, "-", a hex digest.
TOKEN_SHAPE = re.compile(r"[0-9a-z]{1,13}-[0-9a-f]{20,64}")
# The message kind these links go out as (lms.messages declares it with this module's hooks).
SET_PASSWORD_LINK = "set_password_link"


class TokenState(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # forged, or already used


class SetPasswordTokenGenerator(PasswordResetTokenGenerator):
    # Changed from "lms.accounts.SetPasswordTokenGenerator" when links stopped being stored in the
    # ledger: every link made before then stopped working with it.
    key_salt = "lms.accounts.SetPasswordTokenGenerator.v2"

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
    """Return an absolute, single-use link for `user` to choose a password.

    The token is the link's fragment (after "#"), which browsers never send: it stays out of every
    request line, access log and proxy log. The page reads it with a small static script and posts it
    (account_views.set_password_start_view); without scripts the person pastes the link there.
    """
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = set_password_tokens.make_token(user)
    return f"{settings.SITE_URL}{reverse('set_password_start', args=[uid])}#{token}"


def token_from_link(value: str) -> str:
    """Return the token in what was posted: the fragment of a pasted link, or the token itself ("" if neither)."""
    token = value.strip().rsplit("#", 1)[-1].strip().strip("/")
    return token if TOKEN_SHAPE.fullmatch(token) else ""


def link_context(*, user: User) -> dict:
    """What a message with a set-password link stores: who it is for, never the link itself."""
    return {"email": user.email, "user_id": user.pk, "login_url": f"{settings.SITE_URL}{reverse('login')}"}


def _account_for(context: dict) -> User | None:
    accounts = User.objects.filter(is_active=True)
    if context.get("user_id"):
        return accounts.filter(pk=context["user_id"]).first()
    return accounts.filter(email__iexact=context.get("email", "")).first()


def set_password_links(context: dict) -> dict:
    """Mint the set-password link as the message is rendered for sending (MessageKind.render_context).

    The ledger keeps only the account's id: a link stored there would let anyone who can read
    the ledger (view-only staff) take the account over.
    """
    user = _account_for(context)
    if user is None:
        raise ValueError("No active account has this address any more: no set-password link can be made.")
    name = context.get("name") or user.name
    locale = reader_locale(language=user.language, locale=user.locale)  # the date in the email's language
    return {
        "set_password_url": set_password_url(user=user),
        "link_expires": format_when(timezone.now() + lifetime(), tz=user.timezone, locale=locale),
        "name": name,
        "first_name": first_name(name),
    }


def unwanted_set_password_links(deliveries) -> dict[int, str]:
    """Cancel link requests for addresses with no active account (MessageKind.still_wanted)."""
    addresses = {d.to_address.lower() for d in deliveries}
    known = set(
        User.objects.annotate(address=Lower("email"))
        .filter(address__in=addresses, is_active=True)
        .values_list("address", flat=True)
    )
    return {d.pk: "no_account" for d in deliveries if d.to_address.lower() not in known}


@transaction.atomic
def request_set_password_link(*, email: str, now: dt.datetime | None = None) -> None:
    """Queue a set-password link for the account with `email`, if there is one; the worker sends it.

    Known and unknown addresses cost the request the same work (one look-up, one insert), so
    neither the answer nor its timing tells whether an account exists; the dispatcher cancels
    requests for addresses without an account. One link per address per interval: asking again
    within it re-uses the one already on its way (it is still valid).
    """
    now = now or timezone.now()
    email = email.strip().lower()
    interval = dt.timedelta(minutes=settings.SET_PASSWORD_EMAIL_INTERVAL_MINUTES)
    if message_planned_since(kind=SET_PASSWORD_LINK, channel=Channel.EMAIL, to_address=email, since=now - interval):
        return
    user = User.objects.filter(email__iexact=email, is_active=True).only("pk").first()
    plan_messages(
        kind=SET_PASSWORD_LINK,
        now=now,
        messages=[
            PlannedMessage(
                recipient=Recipient(user_id=user.pk if user else None, email=email),
                event_key=f"{email}@{int(now.timestamp() // interval.total_seconds())}",
                context={"email": email, "login_url": f"{settings.SITE_URL}{reverse('login')}"},
                subject_type=User._meta.label_lower if user else "",
                subject_id=user.pk if user else None,
                # A link asked for hours ago is no answer any more: ask again.
                expires_at=now + dt.timedelta(hours=2),
            )
        ],
    )
