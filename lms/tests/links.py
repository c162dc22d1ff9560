"""Following an emailed set-password link as a browser does: its page, then the token from its fragment posted there."""

import re

# The path of the link's page, then its token after "#" (the part no request line carries).
LINK = re.compile(r"https://school\.example(/accounts/set-password/[^/\s#]+/)#([0-9a-z]+-[0-9a-f]+)")


def emailed_link(body: str) -> str:
    """The set-password link in an email's text, without the site: "/accounts/set-password/<uid>/#<token>"."""
    path, token = LINK.search(body).groups()
    return f"{path}#{token}"


def open_link(client, link: str, *, follow: bool = True):
    """Open the link: GET its page (the browser sends no fragment), then post the token as its script does."""
    path, _, token = link.partition("#")
    client.get(path)
    return client.post(path, {"link": token}, follow=follow)
