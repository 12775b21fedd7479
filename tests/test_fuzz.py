"""Every endpoint, hostile input: no answer is ever a 5xx.

The test walks the app's URL map (the admin views, the sign-in pages and the console's
own pages), fills the URL's converters with sample and out-of-range values, reads each
form's real field names from its page, and sends every field and every known query
parameter one of: NUL bytes, integers past 32 and 64 bits, negative numbers, empty
text, NaN / Infinity / sNaN / 1e999, and an off-site URL. It runs anonymously, as an
admin and as a clerk. The values are mixed deterministically (a fixed seed per
endpoint), a few requests per endpoint, so a run stays short on both databases.
"""

from __future__ import annotations

import random
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from flask import Flask
from werkzeug.routing import Rule

from console.admin.registry import find_view, registered_views
from console.database import db
from console.models import AuditEvent, OutboxMessage, Promotion, Role, ShippingMethod, TaxRate
from tests.factories import OrderFactory, StaffFactory, catalogue
from tests.helpers import csrf_token_from

NUMBERS = [str(2**31), str(2**63), str(10**30), "-1", "-2147483649", "0"]
DECIMALS = ["NaN", "Infinity", "-Infinity", "sNaN", "1e999"]
TEXTS = ["", " ", "http:evil.example/phish", "//evil.example", "ordinary text"]
PAYLOADS = NUMBERS + DECIMALS + TEXTS
NUL_PAYLOADS = ["\x00", "a\x00b", "1\x00"]

QUERY_PARAMETERS = ["id", "url", "page", "page_size", "sort", "desc", "search"]
QUERY_PARAMETERS += ["offset", "limit", "query", "name", "next"]

MIXES_PER_ENDPOINT = 3
"""Requests per endpoint and method with mixed payloads (plus one with NUL bytes)."""

SKIPPED_ENDPOINTS = {"static", "admin.static", "security.static", "security.logout"}
"""Static files serve files, and signing out would end the signed-in run."""


class FormFields(HTMLParser):
    """The named inputs, selects and text areas of a page, with their given values."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in {"input", "select", "textarea"}:
            return
        attributes = dict(attrs)
        name = attributes.get("name")
        if name and attributes.get("type") not in {"submit", "button"}:
            self.fields.setdefault(name, attributes.get("value") or "")


def form_fields(html: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    return parser.fields


@pytest.fixture
def samples(app) -> dict:
    """A record of every kind, and their ids by admin endpoint."""
    clerk = StaffFactory(email="taker@staff.test", role="clerk")
    target = StaffFactory(email="target@staff.test", role="viewer")
    customer, products = catalogue({"A": 10, "B": 5})
    order = OrderFactory(customer=customer, lines={products["A"]: 2}, actor=clerk)
    message = db.session.query(OutboxMessage).first()
    event = db.session.query(AuditEvent).first()
    viewer = db.session.query(Role).filter_by(name="viewer").one()
    code = Promotion(code="SAMPLE", kind="percentage", value=Decimal("5"))
    post = ShippingMethod(name="Post", price=Decimal("4.90"))
    db.session.add_all([code, post])
    db.session.commit()
    rate = db.session.query(TaxRate).first()
    ids = {
        "order": order.id,
        "pending_order": order.id,
        "customer": customer.id,
        "product": products["A"].id,
        "notification": message.id,
        "audit": event.id if event is not None else 1,
        "staff_user": target.id,
        "role": viewer.id,
        "promotion": code.id,
        "shipping_method": post.id,
        "tax_rate": rate.id,
    }
    return {"ids": ids, "order_id": order.id, "customer_id": customer.id}


def fuzzed_rules(app: Flask) -> list[Rule]:
    admin = {view.endpoint for view in registered_views(app)}
    rules = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0] or rule.endpoint
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        if blueprint in admin or blueprint in {
            "security",
            "web",
            "invitations",
            "home",
            "status",
            "favicon",
        }:
            rules.append(rule)
    return sorted(rules, key=lambda rule: rule.rule)


def url_values(rule: Rule, samples: dict, rng: random.Random) -> list[dict]:
    """Values for the rule's converters: a sample first, then hostile ones."""
    choices = {
        "order_id": [samples["order_id"], 2**31, 10**30],
        "customer_id": [samples["customer_id"], 2**31, 10**30],
        "transition_name": ["approve", "reject", "ship", "deliver", "cancel", "x"],
        "export_type": ["csv", "xls"],
        "token": ["x", "a" * 300],
        # No job in the samples: a job page answers 404, never a 5xx.
        "job_id": [1, 2**31, 10**30],
        # Nor an import: its pages answer 404 (or 403), never a 5xx.
        "batch_id": [1, 2**31, 10**30],
        "saved_id": [1, 2**31, 10**30],
        # API tokens: none in the samples (revoking one that is not there answers 404).
        "token_id": [1, 2**31, 10**30],
        # Nor documents: an unknown invoice or credit note answers 404.
        "invoice_id": [1, 2**31, 10**30],
        "credit_note_id": [1, 2**31, 10**30],
        # Nor returns: an unknown return answers 404.
        "return_id": [1, 2**31, 10**30],
    }
    arguments = sorted(rule.arguments)
    if not arguments:
        return [{}]
    combos = []
    for _ in range(2):
        combos.append({arg: rng.choice(choices.get(arg, ["x"])) for arg in arguments})
    combos[0] = {arg: choices.get(arg, ["x"])[0] for arg in arguments}
    return combos


def payload_mix(names: list[str], rng: random.Random, nul: bool) -> dict[str, str]:
    pool = NUL_PAYLOADS if nul else PAYLOADS
    return {name: rng.choice(pool) for name in names}


class Fuzzer:
    def __init__(self, client, app: Flask, samples: dict) -> None:
        self.client = client
        self.app = app
        self.samples = samples
        self.failures: list[str] = []
        self.requests = 0

    def send(self, method: str, url: str, **kwargs) -> object:
        self.requests += 1
        try:
            response = self.client.open(url, method=method, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every escape is a finding
            self.failures.append(f"{method} {url} {kwargs}: raised {exc!r}")
            return None
        if response.status_code >= 500:
            self.failures.append(f"{method} {url} {kwargs}: {response.status_code}")
        return response

    def view_endpoint(self, rule: Rule) -> str:
        return rule.endpoint.rpartition(".")[0]

    def query_names(self, rule: Rule) -> list[str]:
        names = list(QUERY_PARAMETERS)
        view = find_view(self.app, self.view_endpoint(rule))
        with self.app.test_request_context():
            filters = getattr(view, "_filter_args", None) or {}
        names += [f"flt0_{key}" for key in filters]
        return names

    def page_fields(self, rule: Rule, path: str) -> tuple[dict[str, str], str | None]:
        """The form fields of the page behind ``path`` (GET), and its CSRF token."""
        endpoint = self.view_endpoint(rule)
        query = {}
        if endpoint in self.samples["ids"]:
            query["id"] = self.samples["ids"][endpoint]
        page_path = path
        if rule.endpoint.endswith(("action_view", "delete_view", "ajax_update")):
            page_path = path.rsplit("/", 2)[0] + "/"
        elif rule.endpoint.endswith("transition_view"):
            page_path = "/admin/order/details/"
            query = {"id": self.samples["order_id"]}
        response = self.send("GET", page_path, query_string=query)
        if response is None or response.status_code != 200:
            return {}, None
        html = response.get_data(as_text=True)
        try:
            token = csrf_token_from(html)
        except AssertionError:
            token = None
        fields = form_fields(html)
        if rule.endpoint.endswith("action_view"):
            fields.update({"action": "", "rowid": "", "reason": ""})
        if rule.endpoint.endswith("delete_view"):
            fields.update({"id": "", "url": ""})
        if rule.endpoint.endswith("transition_view"):
            fields.update({"reason": "", "tracking": "", "version": "", "url": ""})
        return fields, token

    def fuzz_rule(self, rule: Rule) -> None:
        rng = random.Random(rule.rule)
        for values in url_values(rule, self.samples, rng):
            path = rule.build(values, append_unknown=False)[1]
            if "GET" in rule.methods:
                names = self.query_names(rule)
                for round_ in range(MIXES_PER_ENDPOINT + 1):
                    args = payload_mix(names, rng, nul=round_ == MIXES_PER_ENDPOINT)
                    self.send("GET", path, query_string=args)
            if "POST" in rule.methods:
                fields, token = self.page_fields(rule, path)
                names = [name for name in fields if name != "csrf_token"]
                query = {}
                endpoint = self.view_endpoint(rule)
                if rule.endpoint.endswith("edit_view") and endpoint in self.samples["ids"]:
                    query["id"] = self.samples["ids"][endpoint]
                for round_ in range(MIXES_PER_ENDPOINT + 1):
                    data = payload_mix(names, rng, nul=round_ == MIXES_PER_ENDPOINT)
                    if token:
                        data["csrf_token"] = token
                    query["url"] = rng.choice(PAYLOADS)
                    self.send("POST", path, query_string=query, data=data)


@pytest.mark.parametrize("persona", [None, "admin", "clerk"])
def test_no_endpoint_answers_5xx_to_hostile_input(app, client, auth, samples, persona):
    if persona:
        auth.login_as(persona)
    fuzzer = Fuzzer(client, app, samples)
    for rule in fuzzed_rules(app):
        fuzzer.fuzz_rule(rule)
    assert fuzzer.requests > 300
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:40])
