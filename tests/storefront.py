"""A storefront's client of the API, as a shop would write one against the document.

It knows two things: the address of the OpenAPI document and a token. Every operation
is found in the document by its ``operationId`` (``orders.create``), its method, path
and parameters read from there; nothing else of the API is written down here. It
speaks plain HTTP (``urllib``), so that a client-side timeout is a real one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_parameters: frozenset[str]
    query_parameters: frozenset[str]
    header_parameters: frozenset[str]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: Any

    def expect(self, status: int) -> Any:
        """The body, when the answer has ``status`` (else an error naming the problem)."""
        assert self.status == status, f"expected {status}, got {self.status}: {self.body}"
        return self.body


class Storefront:
    """Calls the API's operations by their ``operationId``, with a bearer token."""

    def __init__(self, document_url: str, token: str) -> None:
        self.token = token
        with urllib.request.urlopen(document_url, timeout=30) as response:
            self.document = json.loads(response.read())
        server = (self.document.get("servers") or [{"url": "/"}])[0]["url"]
        self.base = urllib.parse.urljoin(document_url, server)
        self.operations: dict[str, Operation] = {}
        for path, item in self.document["paths"].items():
            shared = item.get("parameters", [])
            for method, operation in item.items():
                if method not in HTTP_METHODS:
                    continue
                parameters = [self.resolve(p) for p in (*shared, *operation.get("parameters", []))]

                def named(where: str, parameters: list[dict[str, Any]] = parameters):
                    return frozenset(p["name"].lower() for p in parameters if p["in"] == where)

                self.operations[operation["operationId"]] = Operation(
                    method.upper(), path, named("path"), named("query"), named("header")
                )

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """``node``, or what its ``$ref`` (``#/components/...``) points to in the document."""
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def call(
        self,
        operation_id: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
        **path_values: Any,
    ) -> Answer:
        """Send the operation; an error status is an ``Answer`` too, a timeout raises
        ``TimeoutError``. Parameters the document does not declare are refused here."""
        operation = self.operations[operation_id]
        query, headers = query or {}, headers or {}
        assert set(path_values) == operation.path_parameters, operation
        assert {name.lower() for name in query} <= operation.query_parameters, operation
        assert {name.lower() for name in headers} <= operation.header_parameters, operation
        path = operation.path.format(**path_values).lstrip("/")
        url = urllib.parse.urljoin(self.base, path)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        sent = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **headers}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=sent, method=operation.method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Answer(response.status, response.headers, _json(response.read()))
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, _json(error.read()))


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw else None
