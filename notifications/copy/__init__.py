"""
Copy staff edit: versioned message templates per kind, channel and language, in the admin.

The shipped files in templates/notifications/<kind>/ are the defaults. Staff write a version
(a draft), preview it with a real recipient's context, send a test to themselves and publish it;
from then on dispatch renders that kind, channel and language with it, and each delivery records
the version it used. Staff templates run in a sandbox (`sandbox`): Django's template language
without loading, including or extending, where only the kind's documented variables exist.
"""
