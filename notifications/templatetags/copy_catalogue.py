"""Template tags of the copy editor's pages: who a publish reaches."""

from django import template

from ..editor.catalogue import publish_audience as audience_of

register = template.Library()


@register.inclusion_tag("admin/notifications/messagetemplate/_audience.html")
def publish_audience(version):
    """The lines that say who gets `version` once published, and what other languages keep."""
    return {"audience": audience_of(kind=version.kind, channel=version.channel, language=version.language)}
