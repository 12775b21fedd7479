"""Schemathesis, an independent OpenAPI fuzzer, over every operation of the API.

It reads the API's own document (``/api/v1/openapi.json``), generates requests valid
and invalid for each operation, sends them to the real app (in process, through WSGI)
on SQLite and on PostgreSQL with a token holding every permission, and checks each
answer: never a 5xx, and every status, content type, header and body as the document
says. The examples per operation are bounded so that the run takes a few minutes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from console.permissions import ALL_PERMISSIONS
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, api_secret, bearer

# Schemathesis's WSGI client addresses the app as "localhost": the one trusted host here.
pytestmark = pytest.mark.settings(SERVER_NAME="localhost", CONSOLE_BASE_URL="http://localhost")

MAX_EXAMPLES = 25
"""Examples per operation, of valid and of invalid requests each: a few minutes in all."""

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_every_operation_answers_as_documented(app):
    """Each operation of the document, fuzzed in turn on this test's database."""
    customer = CustomerFactory()
    product = ProductFactory(stock=1000, unit_price=Decimal("3.50"))
    OrderFactory(customer=customer, lines={product: 1})
    headers = bearer(api_secret(ALL_PERMISSIONS))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 22
    failures: list[str] = []
    cases = [
        (operation, mode)
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for operation, mode in cases:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as failure:  # noqa: BLE001 - every finding is reported below
            failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
