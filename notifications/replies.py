"""
Replies other apps answer: a WhatsApp message (a quick-reply button's payload, or its words) that is
not a keyword (STOP, START) goes to the handlers other apps register here, first answer wins.

notifications knows nothing of what a reply means: lms registers a handler for its RSVP buttons
("I'll be there" on a session reminder) with `register_reply_handler` (from notifications.kinds).
A handler gets the reply and returns None (not theirs) or a `ReplyAnswer`: what was done, and the
kind of the confirmation to send back (a `reply=True` kind) with its context, or no kind for none.
It runs in the transaction that keeps the message, once per message (a webhook sent twice is kept once).
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundReply:
    user_id: int | None  # the one account whose number sent it (None: unknown or shared number)
    address: str
    text: str
    payload: str  # the quick-reply button's id, when a button was tapped
    received_at: dt.datetime
    provider: str = ""


@dataclass(frozen=True)
class ReplyAnswer:
    note: str  # what the handler did, for the message's timeline in the admin
    kind: str = ""  # the confirmation to send back, if any
    context: dict = field(default_factory=dict)
    event_key: str = ""  # several confirmations to one message: one each


ReplyHandler = Callable[[InboundReply], ReplyAnswer | None]
_handlers: list[ReplyHandler] = []


def register_reply_handler(handler: ReplyHandler) -> ReplyHandler:
    """Add `handler` (once, however often its module is imported)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def answer_reply(reply: InboundReply) -> ReplyAnswer | None:
    """The first registered handler's answer to `reply`, or None when none claims it."""
    for handler in _handlers:
        answer = handler(reply)
        if answer is not None:
            return answer
    return None
