"""Strict readers for environment variables.

A bad value stops the process at start with a message naming the variable,
instead of being guessed at (the healthchecks.io way).
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable as a string, or `default` when unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Return the variable as a boolean; anything but a known word is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return the variable as an integer, at least `minimum` when given."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Return a comma-separated variable as a list of non-empty, stripped items."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    """Return the variable when it is one of `choices`."""
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}; got {value!r}")
    return value


def env_periods(name: str, defaults: dict[str, int]) -> dict[str, int]:
    """`name=seconds` pairs, comma-separated, over `defaults` (only their names; 0 turns one off)."""
    periods = dict(defaults)
    for item in env_list(name):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in defaults:
            raise ImproperlyConfigured(f"{name} must be name=seconds pairs of {sorted(defaults)}; got {item!r}")
        try:
            seconds = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {key} must be a whole number of seconds; got {value.strip()!r}") from None
        if seconds != 0 and not 60 <= seconds <= 7 * 86400:
            raise ImproperlyConfigured(f"{name}: {key} must be 0 (off) or 60 to 604800 seconds; got {seconds}")
        periods[key] = seconds
    return periods
