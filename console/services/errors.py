"""Errors that services raise for a person to read."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the change; ``str(error)`` is shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
