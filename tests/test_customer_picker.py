"""The customer picker matches every word typed, ignoring accents and case."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from console.database import db
from console.models import Customer
from console.models.customers import search_words
from tests.factories import CustomerFactory


@pytest.fixture
def customers(app):
    return {
        "marie": CustomerFactory(
            first_name="Marie", last_name="Curie-Skłodowska", email="marie@example.org"
        ),
        "pierre": CustomerFactory(first_name="Pierre", last_name="Curie", email="pc@example.org"),
        "muller": CustomerFactory(first_name="Jörg", last_name="Müller", email="jm@example.de"),
        "marius": CustomerFactory(first_name="Marius", last_name="Smith", email="ms@example.com"),
    }


def picked(client, query: str) -> set[int]:
    found = client.get(
        "/admin/order/ajax/lookup/", query_string={"name": "customer", "query": query}
    )
    assert found.status_code == 200
    return {row[0] for row in found.get_json()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Marie Curie", {"marie"}),
        ("marie curie-sklodowska", {"marie"}),
        ("Sklodowska", {"marie"}),
        ("Curie", {"marie", "pierre"}),
        ("Muller", {"muller"}),
        ("müller jörg", {"muller"}),
        ("MULL", {"muller"}),
        ("mari", {"marie", "marius"}),
        ("marie@example.org", {"marie"}),
        ("example.de", {"muller"}),
        ("Curie Smith", set()),
        ("100%", set()),
    ],
)
def test_every_word_must_start_a_word_of_the_customer(client, auth, customers, query, expected):
    auth.login_as("clerk")
    assert picked(client, query) == {customers[name].id for name in expected}


def test_the_search_text_follows_every_change_of_name_or_email(app, customers):
    marie = customers["marie"]
    marie.last_name = "Dupré"
    marie.email = "MD@Example.org"
    db.session.commit()
    stored = db.session.scalar(
        text("SELECT search_text FROM customer WHERE id = :id"), {"id": marie.id}
    )
    assert stored == "marie dupre md example.org"
    assert search_words("Ørsted Æbelø") == ["orsted", "aebelo"]
    assert db.session.get(Customer, marie.id).search_text == stored
