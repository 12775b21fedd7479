"""Small form helpers shared by the model views."""

from __future__ import annotations


def strip(value: object) -> object:
    """Trim surrounding spaces of a text input; empty text becomes None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def lower(value: object) -> object:
    """Lower-case a text input (e-mail addresses are compared case-insensitively)."""
    return value.lower() if isinstance(value, str) else value
