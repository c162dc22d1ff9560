"""The tags and filters a staff-edited template may use: Django's own, minus those that reach
outside the template (load, include, extends, url, csrf_token, debug), plus `button`. Every
filter charges the render's budget (notifications.copy.limits) and refuses a result past its size."""

import functools

from django.template import Library, defaultfilters, defaulttags
from django.template.loader import render_to_string

from . import limits

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


def _guarded(name: str, func):
    """`func` (a Django filter) within the limits: its flags and signature kept (functools.wraps)."""

    @functools.wraps(func)
    def guarded(value, *args, **kwargs):
        limits.charge(1)
        if args:
            limits.check_width(name, args[0])
            if name == "join":
                limits.check_join(value, args[0])
        result = func(value, *args, **kwargs)
        limits.check_size(result)
        limits.charge(limits.size(result))
        return result

    return guarded


register.filters.update({name: _guarded(name, func) for name, func in defaultfilters.register.filters.items()})


@register.simple_tag
def button(url="", label="", color=""):
    """{% button url=cta_url label="Get Started" %}: the shipped email button."""
    return render_to_string("notifications/_button.html", {"url": url, "label": label, "color": color})
