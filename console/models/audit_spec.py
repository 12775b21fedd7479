"""What the audit trail records of a model, declared on the model itself.

Each audited model carries a class attribute beside its columns::

    class Customer(Model):
        ...
        __audit__ = AuditSpec("customer", fields=("first_name", "email", ...))

so that adding a column and deciding whether (and how) it is audited is a change in one
file. A column not listed is never written to the trail. ``console.audit`` collects the
specs of every mapped model and does the capturing; this module is only the
declaration, importable by every model module without import cycles (it imports
nothing of the console).

References to other records name the *relationship* (``"customer"``), not the other
model: the model is read from the relationship once the mappers are configured, so
``orders.py`` need not import ``staff.py`` at run time to audit ``created_by``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

SECRET_NAME = re.compile(r"password|secret|token|uniquifier|recovery|otp|webauthn", re.I)
"""A field named like this is never recorded with its value, whatever a spec says.

A guard against someone adding a secret to an allow-list by mistake: a spec that would
show such a field refuses to be created (so the model module fails to import), and an
explicit change of such a name given to ``console.audit.record`` is redacted.
"""


@dataclass(frozen=True)
class AuditSpec:
    """What the trail records of one model."""

    record_type: str
    """Name of the record kind in events (and in the audit view's filters)."""

    fields: tuple[str, ...]
    """Columns recorded with their before and after values."""

    references: Mapping[str, str] = field(default_factory=dict)
    """Foreign-key column -> relationship: recorded under the relationship's name as the
    other record's label and id, e.g. ``{"customer_id": "customer"}``."""

    collections: tuple[str, ...] = ()
    """Many-to-many relationships recorded as the sorted labels of their members."""

    masked: tuple[str, ...] = ()
    """Secrets: a change is noted as ``[redacted]``, the value never."""

    parent: tuple[str, str, str] | None = None
    """(record type, foreign-key column, relationship) of the record owning this one."""

    owned_collections: tuple[str, ...] = ()
    """Child collections whose changes count as a change of this record (its version)."""

    def __post_init__(self) -> None:
        leaked = [name for name in self.shown if SECRET_NAME.search(name)]
        if leaked:
            raise ValueError(
                f"the audit spec of {self.record_type!r} would record secrets: {leaked}; "
                "list them under masked= (recorded as changed, never by value)"
            )

    @property
    def shown(self) -> tuple[str, ...]:
        """The names whose values events show (everything but the masked secrets)."""
        return (*self.fields, *self.collections, *self.references.values())

    @property
    def watched(self) -> tuple[str, ...]:
        """Every attribute whose change the trail records (masked secrets included)."""
        return (*self.fields, *self.references, *self.collections, *self.masked)
