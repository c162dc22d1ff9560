"""
Who a message is for, and each rule about them written once, its two sides side by side: the
Python side for one `Recipient` (plan_messages, rendering) and the SQL side for the rows of an
audience (plan_audience's one query per channel: a Django expression over the rows' columns, or a
condition on a row `p`, by database vendor). The two planning paths cannot drift apart when both
read the rule from here, and the audience path's SQL is snapshot per vendor in the tests
(notifications/tests/sql/).

This module imports no model: the ledger's models may use it (Delivery.context's first name).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Case, F, Func, Q, TextField, Value, When
from django.db.models.functions import Cast, Concat, Lower

from common.languages import DEFAULT_LANGUAGE

# The channels' names (notifications.models.Channel's values).
EMAIL, WHATSAPP = "email", "whatsapp"


@dataclass(frozen=True)
class Recipient:
    """Who a message is for; `user_id` is None for people without an account (leads)."""

    user_id: int | None
    email: str = ""
    phone: str = ""
    whatsapp_opt_in: bool = False
    name: str = ""
    timezone: str = ""
    locale: str = ""
    language: str = ""

    @classmethod
    def for_user(cls, user) -> "Recipient":
        """Return the recipient for an account (settings.AUTH_USER_MODEL)."""
        return cls(
            user_id=user.pk,
            email=user.email,
            phone=getattr(user, "phone", ""),
            whatsapp_opt_in=getattr(user, "whatsapp_opt_in", False),
            name=getattr(user, "name", ""),
            timezone=getattr(user, "timezone", ""),
            locale=getattr(user, "locale", ""),
            language=getattr(user, "language", ""),
        )

    @property
    def ref(self) -> str:
        return recipient_ref(self.user_id, self.email)


# --- First name: what a message calls a person ----------------------------------------------------

NO_NAME = "there"  # "Hi there" when a person gave no name


def first_name(name: str | None) -> str:
    """Return what a message calls a person: the first word of their name, or "there"."""
    return (name or "").split(" ")[0] or NO_NAME


class FirstName(Func):
    """first_name() in SQL: the first word of a name column, or "there"."""

    output_field = TextField()
    arity = 1

    def as_sql(self, compiler, connection, **extra):
        name, params = compiler.compile(self.source_expressions[0])
        # The name is written as often as the vendor's SQL mentions it (SQLite: four times), with its parameters.
        mentions = first_name_sql(connection.vendor, "%s").count("%s")
        return first_name_sql(connection.vendor, name), params * mentions


def first_name_sql(vendor: str, name: str) -> str:
    """first_name() as SQL over the column (or expression) `name`."""
    if vendor == "postgresql":
        first = f"split_part({name}, ' ', 1)"
    else:
        first = f"CASE WHEN instr({name}, ' ') > 0 THEN substr({name}, 1, instr({name}, ' ') - 1) ELSE {name} END"
    return f"coalesce(nullif({first}, ''), '{NO_NAME}')"


def recipient_context(name: str) -> dict:
    """What a message knows of its recipient, laid over the event's context (the recipient's own wins)."""
    return {"name": name, "first_name": first_name(name)}


# What a row to an account does not keep: read from the account when a message to it is rendered
# (Delivery.context).
ACCOUNT_KEYS = ("name", "first_name", "language")


# --- Reference: the recipient's part of an in-app notification's dedupe key ------------------------


REF_PREFIX = "u"  # before an account's id


def recipient_ref(user_id: int | None, email: str) -> str:
    """An account's "u<id>", else the address in lower case."""
    return f"{REF_PREFIX}{user_id}" if user_id is not None else email.lower()


def recipient_ref_expression(user_id: str = "recipient_id", email: str = "email"):
    """recipient_ref() over an audience's columns."""
    return Case(
        When(**{f"{user_id}__isnull": True}, then=Lower(email)),
        default=Concat(Value(REF_PREFIX), Cast(user_id, output_field=TextField())),
        output_field=TextField(),
    )


# --- Stored language: what a message remembers of its reader's language ----------------------------


def stored_language(language: str | None) -> str:
    """The language a message keeps for dispatch to render in: the reader's, "" for the default (read
    as the default when rendered, see languages.language_of)."""
    return language if language and language != DEFAULT_LANGUAGE else ""


def stored_language_expression(language: str = "language"):
    """stored_language() over an audience's column: the language, or NULL when there is none to keep."""
    return Case(
        When(Q(**{f"{language}__isnull": False}) & ~Q(**{f"{language}__in": ("", DEFAULT_LANGUAGE)}), then=F(language)),
        default=Value(None),
        output_field=TextField(),
    )


# --- Address: where a channel's message goes --------------------------------------------------------


def address(channel: str, recipient: Recipient) -> str:
    return recipient.email.lower() if channel == EMAIL else recipient.phone


def address_sql(channel: str, row: str = "p") -> str:
    """address() for a row of an audience."""
    return f"lower({row}.email)" if channel == EMAIL else f"{row}.phone"


# --- Requirements: what a recipient must have to get a channel --------------------------------------

E164_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Requirement:
    """One condition a recipient must meet to get a channel, written once for both planning paths:
    `holds` for a Recipient in Python (plan_messages), `sql` for a row `p` of an audience
    (audiences; SQL and parameters, by database vendor). `reason` is the skip reason."""

    reason: str
    holds: Callable[[Recipient], bool]
    sql: Callable[[str], tuple[str, list]]


def _phone_shape_sql(vendor: str) -> tuple[str, list]:
    operator = "~" if vendor == "postgresql" else "REGEXP"
    return f"p.phone {operator} %s", [E164_SHAPE.pattern]


# Checked in order; the first unmet one is why the channel was skipped.
REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    EMAIL: (
        Requirement("no_email", lambda r: bool(r.email), lambda _: ("(p.email IS NOT NULL AND p.email <> '')", [])),
    ),
    WHATSAPP: (
        Requirement("whatsapp_not_opted_in", lambda r: bool(r.whatsapp_opt_in), lambda _: ("p.whatsapp_opt_in", [])),
        # The shape only: the dispatcher checks the number fully.
        Requirement("whatsapp_invalid_number", lambda r: bool(E164_SHAPE.match(r.phone or "")), _phone_shape_sql),
    ),
}


def unmet_requirement(channel: str, recipient: Recipient) -> str:
    """Return why `recipient` cannot get `channel` (a skip reason), or "" when they can."""
    return next((rule.reason for rule in REQUIREMENTS.get(channel, ()) if not rule.holds(recipient)), "")
