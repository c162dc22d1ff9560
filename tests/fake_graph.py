"""
A local fake of Meta's Graph API for WhatsApp (a real HTTP server on 127.0.0.1), answering as the
Cloud API documents: POST /<version>/<phone-number-id>/messages and
GET /<version>/<waba-id>/message_templates. Tests point META_GRAPH_API_URL at it.
"""

import hashlib
import hmac
import itertools
import json
import re
import time
from urllib.parse import urlsplit

from tests.fakes import FakeProvider, Recorded, Reply

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
APP_SECRET = "meta-app-secret-for-tests"  # the Meta app's secret the tests sign webhooks with
_ids = itertools.count(1)


def graph_ok(recorded: Recorded) -> Reply:
    """The Cloud API's answer to an accepted message."""
    body = recorded.json()
    return Reply(
        200,
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": f"wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgS{next(_ids):010d}", "message_status": "accepted"}],
        },
    )


def graph_error(code: int, message: str, *, status: int = 400, details: str = "", title: str = "") -> Reply:
    """A Graph API error document, as the Cloud API sends it."""
    return Reply(
        status,
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details or message},
                "error_subcode": 2494010,
                "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv",
                **({"error_user_title": title} if title else {}),
            }
        },
    )


class FakeGraph(FakeProvider):
    """Records sends; answers the template list from `templates` (the WABA's message templates).

    With `strict` on, a template message is checked as the Cloud API checks it: a template not
    approved in that language answers 132001, parameters that do not match its components 132000.
    """

    def __init__(self, default=graph_ok, **kwargs):
        super().__init__(default=self._answer, **kwargs)
        self.accept = default
        self.templates: list[dict] = []
        self.strict = False

    def _answer(self, recorded: Recorded) -> Reply:
        body = recorded.json() if self.strict and recorded.path.endswith("/messages") else {}
        if body.get("type") == "template":
            refusal = template_refusal(body["template"], self.templates)
            if refusal is not None:
                return refusal
        return self.accept(recorded)

    @property
    def api_url(self) -> str:
        return f"{self.url}/{VERSION}"

    def sent(self) -> list[dict]:
        return [request.json() for request in self.requests if request.path.endswith("/messages")]

    def search(self, recorded: Recorded) -> Reply:
        path = urlsplit(recorded.path).path
        if path == f"/{VERSION}/{WABA_ID}/message_templates":
            if recorded.headers.get("Authorization", "") == "Bearer expired":
                return graph_error(190, "Error validating access token: Session has expired.", status=401)
            return Reply(200, {"data": self.templates, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}})
        return Reply(404, {"error": {"message": "Unknown path", "code": 100}})


def template(
    name: str, *, language: str = "en", status: str = "APPROVED", category: str = "UTILITY", components=None
) -> dict:
    """One entry of GET /<waba-id>/message_templates."""
    return {
        "name": name,
        "language": language,
        "status": status,
        "category": category,
        "id": str(abs(hash((name, language))) % 10**15),
        "components": components or [{"type": "BODY", "text": "Hi {{1}}, your session {{2}} starts {{3}}: {{4}}"}],
    }


def _wanted(components: list[dict]) -> dict[tuple[str, str], int]:
    """How many parameters each component of a template takes: {(type, button index): count}."""
    wanted = {}
    for component in components:
        kind = component["type"].lower()
        if kind in ("header", "body"):
            count = len(set(re.findall(r"\{\{(\d+)\}\}", component.get("text", ""))))
            if count:
                wanted[(kind, "")] = count
        for index, button in enumerate(component.get("buttons", [])):
            count = len(set(re.findall(r"\{\{(\d+)\}\}", button.get("url", ""))))
            if count:
                wanted[("button", str(index))] = count
    return wanted


def template_refusal(sent: dict, templates: list[dict]) -> Reply | None:
    """The Cloud API's refusal of a template message (132001, 132000), or None when it is good."""
    found = next(
        (
            t
            for t in templates
            if t["name"] == sent["name"] and t["language"] == sent["language"]["code"] and t["status"] == "APPROVED"
        ),
        None,
    )
    if found is None:
        return graph_error(
            132001,
            "Template name does not exist in the translation",
            details=f"template name ({sent['name']}) does not exist in {sent['language']['code']}",
        )
    given = {
        (c["type"], str(c.get("index", "")) if c["type"] == "button" else ""): len(c.get("parameters", []))
        for c in sent.get("components", [])
    }
    if given != _wanted(found["components"]):
        return graph_error(
            132000,
            "Number of parameters does not match the expected number of params",
            details=f"expected {_wanted(found['components'])}, got {given}",
        )
    return None


def signed(payload: dict, secret: str) -> tuple[bytes, str]:
    """The body and X-Hub-Signature-256 Meta sends with a webhook."""
    body = json.dumps(payload).encode()
    return body, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(value: dict) -> dict:
    """Meta's webhook envelope around one change's `value`."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def status_update(
    message_id: str, status: str, *, recipient: str, delivery_id=None, errors=None, category="utility"
) -> dict:
    """A `statuses` entry (sent, delivered, read, failed)."""
    entry = {
        "id": message_id,
        "status": status,
        "timestamp": "1795000000",
        "recipient_id": recipient.removeprefix("+"),
        "conversation": {"id": "CONVERSATION_ID", "origin": {"type": category}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": category, "type": "regular"},
    }
    if delivery_id is not None:
        entry["biz_opaque_callback_data"] = f"delivery:{delivery_id}"
    if errors:
        entry["errors"] = errors
    return entry


def inbound_text(sender: str, text: str, *, message_id: str = "wamid.IN1", name: str = "Asha", at=None) -> dict:
    """A `messages` entry: a person wrote to us (just now, unless `at` says when)."""
    return {
        "contacts": [{"profile": {"name": name}, "wa_id": sender.removeprefix("+")}],
        "messages": [
            {
                "from": sender.removeprefix("+"),
                "id": message_id,
                "timestamp": str(int(at.timestamp() if at else time.time())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
