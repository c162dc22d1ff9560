"""
What providers tell us: delivery statuses, replies and template reviews, each verified by its
signature (failing closed without a secret) and handed to the services that apply it.

One module a door: `email` (anymail's tracking webhook, only the configured provider's) and
`email_tracking` (anymail's signal, applied to the ledger), `meta_whatsapp` (Meta's Cloud API:
statuses, inbound messages, template reviews), `twilio_status` and `twilio_inbound`; `receipts`
says which channels' providers report deliveries back.
The channels (notifications.channels) only send; they never import services.
"""
