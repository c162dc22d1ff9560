"""Phone numbers: parse what people type, store E.164."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Why a typed number could not be read, in the reader's language (phonenumbers says it in English).
NOT_A_NUMBER = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: _("its country code is missing or unknown"),
    phonenumbers.NumberParseException.NOT_A_NUMBER: _("it does not look like a phone number"),
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: _("it is too short"),
    phonenumbers.NumberParseException.TOO_SHORT_NSN: _("it is too short"),
    phonenumbers.NumberParseException.TOO_LONG: _("it is too long"),
}


def normalize_phone(value: str, *, region: str | None = None) -> str:
    """Return `value` as an E.164 number ("+919876543210"), or raise ValidationError."""
    value = (value or "").strip()
    region = region or settings.PHONE_DEFAULT_REGION
    # Imports and saves normalise the same number several times, raw and then in E.164.
    known = _KNOWN.get((value, region))
    if known is None:
        known = _normalize(value, region)
        if len(_KNOWN) > 100_000:
            _KNOWN.clear()
        _KNOWN[(value, region)] = _KNOWN[(known, region)] = known
    return known


_KNOWN: dict[tuple[str, str], str] = {}


def _normalize(value: str, region: str) -> str:
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        reason = NOT_A_NUMBER.get(exc.error_type, NOT_A_NUMBER[exc.NOT_A_NUMBER])
        raise ValidationError(
            _("“%(value)s” is not a phone number: %(reason)s."),
            code="invalid_phone",
            params={"value": value, "reason": reason},
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."), code="invalid_phone", params={"value": value}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_valid_e164(value: str) -> bool:
    """Return True when `value` is already a valid number in E.164 form."""
    if not value or not value.startswith("+"):
        return False
    try:
        return normalize_phone(value) == value
    except ValidationError:
        return False
