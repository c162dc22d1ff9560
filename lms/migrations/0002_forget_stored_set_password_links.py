"""Forget the set-password links the ledger stored before they were minted at send time.

Every such link stopped working with the token salt's change (lms.accounts); this removes what
is left of them: from the context of each welcome and set-password message (which keeps the
account's id, so a message still waiting is given a fresh link when it is sent) and from the
stored copy of what was sent.
"""

import re

from django.db import migrations

KINDS = ("welcome", "set_password_link")
LINK = re.compile(r"\S+/accounts/set-password/\S+/\S+/?")
REDACTED = "[personal link: made when sent, not stored]"


def forget_links(apps, schema_editor):
    Delivery = apps.get_model("notifications", "Delivery")
    changed = []
    rows = Delivery.objects.filter(kind__in=KINDS).only("id", "context", "rendered_text", "recipient_id")
    for delivery in rows.iterator(chunk_size=2000):
        context = dict(delivery.context or {})
        if "set_password_url" not in context and not LINK.search(delivery.rendered_text):
            continue
        context.pop("set_password_url", None)
        context.pop("link_expires", None)
        if delivery.recipient_id and "user_id" not in context:
            context["user_id"] = delivery.recipient_id
        delivery.context = context
        delivery.rendered_text = LINK.sub(REDACTED, delivery.rendered_text)
        changed.append(delivery)
        if len(changed) >= 2000:
            Delivery.objects.bulk_update(changed, ["context", "rendered_text"])
            changed = []
    Delivery.objects.bulk_update(changed, ["context", "rendered_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("lms", "0001_initial"),
        ("notifications", "0003_delivery_event_key_not_indexed"),
    ]

    operations = [migrations.RunPython(forget_links, migrations.RunPython.noop)]
