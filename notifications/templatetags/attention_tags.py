"""`{% attention_form %}`: the quiet hours and digest hour fieldset of the preferences page."""

from django import template

from ..attention_forms import AttentionForm

register = template.Library()


@register.inclusion_tag("notifications/pages/_attention.html", takes_context=True)
def attention_form(context):
    return {"attention_form": AttentionForm.for_user(context["request"].user), "csrf_token": context.get("csrf_token")}
