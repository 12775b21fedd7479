"""Domain rules with no Flask-Admin in them.

Each service takes the acting staff member explicitly and raises ``DomainError`` with a
message a person can read when a rule refuses the change.
"""

from console.services.errors import DomainError

__all__ = ["DomainError"]
