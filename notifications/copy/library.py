"""The tags and filters a staff-edited template may use: Django's own, minus those that reach
outside the template (load, include, extends, url, csrf_token, debug), plus `button`."""

from django.template import Library, defaultfilters, defaulttags
from django.template.loader import render_to_string

register = Library()

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "lorem",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)

for _name in ALLOWED_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
register.filters.update(defaultfilters.register.filters)


@register.simple_tag
def button(url="", label="", color=""):
    """{% button url=cta_url label="Get Started" %}: the shipped email button."""
    return render_to_string("notifications/_button.html", {"url": url, "label": label, "color": color})
