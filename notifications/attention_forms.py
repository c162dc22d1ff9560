"""The preferences page's attention settings: quiet hours and the digest's hour (services/attention.py)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .models import AttentionPreference

HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]


class AttentionForm(forms.Form):
    """A person's quiet hours (both empty: the site's) and the hour their digest comes."""

    quiet_start = forms.TimeField(
        label=_("Quiet from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label=_("Quiet until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    digest_hour = forms.TypedChoiceField(
        label=_("Daily digest at"),
        choices=HOURS,
        coerce=int,
        help_text=_("Messages past the day's few come together in one digest, by email and here, at this hour."),
    )

    @classmethod
    def for_user(cls, user, data=None) -> "AttentionForm":
        own = AttentionPreference.objects.filter(user=user).first()
        quiet = (own.quiet_start, own.quiet_end) if own and own.quiet_start is not None else conf.quiet_hours
        initial = {
            "quiet_start": quiet[0] if quiet else None,
            "quiet_end": quiet[1] if quiet else None,
            "digest_hour": own.digest_hour if own and own.digest_hour is not None else conf.digest_hour,
        }
        return cls(data, initial=initial)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if (start is None) != (end is None):
            raise forms.ValidationError(_("Give both ends of your quiet hours, or neither for ours."))
        if start is not None and start == end:
            raise forms.ValidationError(_("Your quiet hours must end at another time than they start."))
        return cleaned

    def save(self, user) -> AttentionPreference:
        data = self.cleaned_data
        preference, _ = AttentionPreference.objects.update_or_create(
            user=user,
            defaults={
                "quiet_start": data["quiet_start"],
                "quiet_end": data["quiet_end"],
                "digest_hour": data["digest_hour"],
            },
        )
        return preference
