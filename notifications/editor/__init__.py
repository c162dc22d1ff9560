"""
The copy editor staff use in the admin: the catalogue of every message, drafts, previews with
sample data, "send a test to me" and publishing. Built on `notifications.copy` (the sandboxed
template engine, its limits and links, the shipped and published versions), which rendering uses
too; the editor sits above rendering and dispatch, so nothing below it imports it.
"""
