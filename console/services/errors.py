"""Errors that services raise for a person to read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """A business rule refused the change; ``str(error)`` is shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PricingRefused(DomainError):
    """An order cannot be priced as given; ``errors`` says why, by form field.

    The order form shows each message on its field (``coupon_code``,
    ``shipping_method``...); ``str(error)`` has them all for anyone else.
    """

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {name: tuple(messages) for name, messages in errors.items()}
        super().__init__(" ".join(m for messages in self.errors.values() for m in messages))
