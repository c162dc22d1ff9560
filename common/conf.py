"""
Settings an app reads, through one object per app, in the spirit of django-q2's `Conf`.

config/settings.py keeps what the environment says as written, so a typo there cannot stop the
site from starting. An app's `conf` declares each setting it reads once: where it lives, the
environment variable an operator types, its one default and how it is read. A value is parsed on
first use (and again after a test changes the setting); the app's system check parses every one
and names the variable and the bad value, so `manage.py check` (run by every command) reports a
typo instead of a student's request failing on it.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

REQUIRED = object()  # a setting with no default of its own


class Setting:
    """One value an app reads: its Django setting (and key, for a dict of them), its environment
    variable, its default (already parsed) and its parser, which raises ValueError saying why."""

    def __init__(
        self,
        setting: str,
        *,
        variable: str,
        check_id: str,
        default: Any = REQUIRED,
        parse: Callable[[Any], Any] = str,
        key: str | None = None,
        problems: Callable[[Any], list[str]] | None = None,
    ):
        self.setting, self.key, self.variable, self.check_id = setting, key, variable, check_id
        self.default, self.parse = default, parse
        # What only the check reports (a kind no one declared): the site still runs with it.
        self.problems = problems
        self.name = ""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, conf, owner=None):
        if conf is None:
            return self
        return conf.value(self)

    def raw(self) -> Any:
        """The value as the settings hold it (None when unset)."""
        value = getattr(settings, self.setting, None)
        if self.key is not None:
            value = (value or {}).get(self.key)
        return value

    def read(self) -> Any:
        """The parsed value, or the default when unset; ImproperlyConfigured when it cannot be read."""
        raw = self.raw()
        if raw is None:
            if self.default is REQUIRED:
                raise ImproperlyConfigured(f"{self.variable} is not set.")
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise ImproperlyConfigured(self.error_text(raw, exc)) from exc

    def error_text(self, raw: Any, reason: Exception | str) -> str:
        return f"{self.variable} is {raw!r}: {str(reason).rstrip('.')}."

    def hint(self) -> str:
        if self.default is REQUIRED:
            return f"Set {self.variable}."
        default = env_form(self.default)
        return f"Correct {self.variable}, or unset it for the default ({repr(default) if default else 'none'})."


class Conf:
    """The settings an app reads (its `Setting` attributes), each parsed once and read again after
    a test changes it. `prefixes`: the dict settings this app owns whole, by the prefix of their
    variables, so a variable that names no key (a typo) is reported under `unknown_id`."""

    prefixes: dict[str, str] = {}
    unknown_id = ""

    def __init__(self):
        self._values: dict[str, Any] = {}
        _confs.append(self)

    @classmethod
    def declared(cls) -> list[Setting]:
        return [
            value for klass in reversed(cls.__mro__) for value in vars(klass).values() if isinstance(value, Setting)
        ]

    def value(self, setting: Setting) -> Any:
        try:
            return self._values[setting.name]
        except KeyError:
            value = self._values[setting.name] = setting.read()
            return value

    def forget(self, *, setting: str) -> None:
        """Read `setting` again at its next use (a test changed it)."""
        if any(declared.setting == setting for declared in self.declared()):
            self._values.clear()

    def check(self) -> list[checks.CheckMessage]:
        """An error for every value that cannot be read (or fails a rule of its own)."""
        errors = []
        for setting in self.declared():
            raw = setting.raw()
            try:
                value = setting.read()
            except ImproperlyConfigured as exc:
                errors.append(checks.Error(str(exc), hint=setting.hint(), id=setting.check_id))
                continue
            if setting.problems is not None and raw is not None:
                errors += [
                    checks.Error(setting.error_text(raw, problem), hint=setting.hint(), id=setting.check_id)
                    for problem in setting.problems(value)
                ]
        for name, prefix in self.prefixes.items():
            keys = {setting.key for setting in self.declared() if setting.setting == name}
            errors += [
                checks.Warning(
                    f"{prefix}{key.upper()} is {value!r}, but no setting has that name: it changes nothing.",
                    hint=f"Settings: {', '.join(sorted(prefix + known.upper() for known in keys))}.",
                    id=self.unknown_id,
                )
                for key, value in (getattr(settings, name, None) or {}).items()
                if key not in keys
            ]
        return errors


_confs: list[Conf] = []


def _forget_changed_setting(*, setting: str, **kwargs) -> None:
    for conf in _confs:
        conf.forget(setting=setting)


setting_changed.connect(_forget_changed_setting, dispatch_uid="common.conf.forget")


def env_form(value: Any) -> str:
    """`value` as it would be written in the environment ("a=1,b=2", "3,7,14")."""
    if isinstance(value, dict):
        return ",".join(f"{key}={env_form(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ",".join(env_form(item) for item in value)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


# --- Parsers: each takes the value as written ("6", "a=1,b=2") or as a test gives it (6, {"a": 1}) ----


def whole(*, minimum: int = 0, maximum: int | None = None) -> Callable[[Any], int]:
    """A whole number in [minimum, maximum]."""

    def parse(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError("not a whole number")
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(f"not between {minimum} and {maximum}" if maximum is not None else f"less than {minimum}")
        return value

    return parse


def number(*, minimum: float = 0) -> Callable[[Any], float]:
    """A number (decimals allowed) of at least `minimum`."""

    def parse(raw: Any) -> float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError("not a number") from None
        if not value >= minimum:  # NaN too
            raise ValueError(f"less than {minimum}")
        return value

    return parse


def amount(raw: Any) -> Decimal:
    """A sum of money of at least 0 ("0.115")."""
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("not an amount like 0.115") from None
    if not value.is_finite() or value < 0:
        raise ValueError("not an amount of at least 0")
    return value


def clock_time(raw: Any) -> dt.time:
    """A time of day, "HH:MM"."""
    if isinstance(raw, dt.time):
        return raw
    try:
        return dt.time.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueError("not a time like 09:30") from None


def text_list(item: Callable[[Any], Any] = str) -> Callable[[Any], list]:
    """Comma-separated items ("3,7,14"), each read by `item`; a list or tuple as it is given."""

    def parse(raw: Any) -> list:
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        elif not isinstance(raw, list | tuple):
            raise ValueError("not a comma-separated list")
        values = []
        for part in raw:
            try:
                values.append(item(part))
            except ValueError as exc:
                raise ValueError(f"{part!r} is {exc}") from None
        return values

    return parse


def mapping(item: Callable[[Any], Any] | None = None) -> Callable[[Any], dict]:
    """Comma-separated "key=value" pairs, each value read by `item`; a dict as it is given (the same
    object when there is nothing to read, so a test that changes it in place is seen)."""

    def parse(raw: Any) -> dict:
        if isinstance(raw, str):
            pairs = {}
            for part in (part.strip() for part in raw.split(",")):
                if not part:
                    continue
                key, equals, value = part.partition("=")
                if not equals or not key.strip():
                    raise ValueError(f"{part!r} is not key=value")
                pairs[key.strip()] = value.strip()
            raw = pairs
        elif not isinstance(raw, dict):
            raise ValueError("not comma-separated key=value pairs")
        if item is None:
            return raw
        values = {}
        for key, value in raw.items():
            try:
                values[key] = item(value)
            except ValueError as exc:
                raise ValueError(f"{key}'s value {value!r} is {exc}") from None
        return values

    return parse


def unknown(found: Iterable[str], known: Iterable[str], what: str) -> list[str]:
    """The sentences naming each of `found` that is not `known` (for a setting's `problems`)."""
    known = set(known)
    return [f"{name!r} is no {what}" for name in found if name not in known]
