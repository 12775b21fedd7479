"""Services hold the domain rules: they never read the request or touch Flask-Admin.

The acting person is an argument of each service; only ``console.audit.context`` reads
who is signed in and where the request comes from.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import console.services

SERVICES = sorted(Path(console.services.__file__).parent.glob("*.py"))

FORBIDDEN_MODULES = ("flask_admin", "flask_login", "console.admin", "console.audit.context")
FORBIDDEN_NAMES = {"request", "has_request_context", "current_user", "session", "g"}
"""Names a service must not take from ``flask`` (or from anywhere, for ``current_user``)."""


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """``(module, name)`` of every import in ``path`` (name None for ``import module``)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def _offending(path: Path) -> list[tuple[str, str | None]]:
    """The imports of ``path`` that would let it read the request or reach Flask-Admin."""
    return [
        (module, name)
        for module, name in _imports(path)
        if module.startswith(FORBIDDEN_MODULES)
        or (module == "flask" and name in FORBIDDEN_NAMES)
        or name == "current_user"
    ]


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_a_service_does_not_read_the_request(path):
    assert _offending(path) == []


def test_the_check_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import flask_login\n"
        "from flask import current_app, request\n"
        "from flask_admin import expose\n"
        "from console.audit.context import current_actor\n"
    )
    assert _offending(bad) == [
        ("flask_login", None),
        ("flask", "request"),
        ("flask_admin", "expose"),
        ("console.audit.context", "current_actor"),
    ]
