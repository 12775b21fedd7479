"""The registry of audited models, collected from their ``__audit__`` declarations.

Each model declares what of it is audited beside its columns (``AuditSpec`` in
``console.models.audit_spec``); this module gathers those declarations once every model
is mapped, answers "is this record audited, and as what?", and checks at start-up that
every name a spec lists exists on its model.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper

import console.models  # noqa: F401 - every model must be mapped before the registry is read
from console.database import Base
from console.models.audit_spec import SECRET_NAME, AuditSpec

__all__ = [
    "RECORD_TYPES",
    "SECRET_NAME",
    "SPECS",
    "AuditSpec",
    "check_specs",
    "record_type_of",
    "reference_model",
    "spec_for",
]


def _collect() -> dict[type, AuditSpec]:
    """``{model: spec}`` for every mapped model declaring ``__audit__`` on itself."""
    audited = [
        mapper.class_
        for mapper in Base.registry.mappers
        if isinstance(vars(mapper.class_).get("__audit__"), AuditSpec)
    ]
    specs = {model: vars(model)["__audit__"] for model in sorted(audited, key=lambda m: m.__name__)}
    kinds = [spec.record_type for spec in specs.values()]
    doubled = sorted({kind for kind in kinds if kinds.count(kind) > 1})
    if doubled:
        raise RuntimeError(f"several audited models share a record type: {doubled}")
    return specs


SPECS: dict[type, AuditSpec] = _collect()
RECORD_TYPES: tuple[str, ...] = tuple(sorted(spec.record_type for spec in SPECS.values()))


def spec_for(obj: object) -> AuditSpec | None:
    """The audit spec of ``obj``'s model, or None when the model is not audited."""
    return SPECS.get(type(obj))


def record_type_of(obj: object) -> str:
    """The record type events of ``obj`` carry (its table's name when not audited)."""
    spec = spec_for(obj)
    if spec is not None:
        return spec.record_type
    return getattr(obj, "__tablename__", type(obj).__name__.lower())


_REFERENCES: dict[tuple[type, str], Any] = {}


def reference_model(model: type, relationship: str) -> Any:
    """The model a reference of ``model``'s spec points to, read from the relationship.

    Kept once found: asked for every audited record of a flush (an import's thousands),
    and the mapping never changes.
    """
    key = (model, relationship)
    if key not in _REFERENCES:
        _REFERENCES[key] = inspect(model).relationships[relationship].mapper.class_
    return _REFERENCES[key]


def check_specs() -> None:
    """Refuse to start when a spec names something its model does not have.

    Run once the mappers can be configured (at app start-up): a misspelt field would
    otherwise be skipped silently, or fail at the first flush of the model.
    """
    problems: list[str] = []
    for model, spec in SPECS.items():
        mapper: Mapper[Any] = inspect(model)
        columns = set(mapper.column_attrs.keys())
        relationships = set(mapper.relationships.keys())
        expected = [
            *((name, columns) for name in (*spec.fields, *spec.masked, *spec.references)),
            *((name, relationships) for name in spec.references.values()),
            *((name, relationships) for name in (*spec.collections, *spec.owned_collections)),
        ]
        if spec.parent is not None:
            expected += [(spec.parent[1], columns), (spec.parent[2], relationships)]
        problems += [
            f"{model.__name__}.{name}" for name, allowed in expected if name not in allowed
        ]
    if problems:
        raise RuntimeError(f"audit specs name attributes their models lack: {problems}")
