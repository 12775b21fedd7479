"""Form validation messages follow the reader's language: WTForms' own ("This field
is required.", through Flask-Admin's translations hook and WTForms' shipped
catalogues) and the console's own validators' messages, posted as a German user with
the test client; a refused form changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from console.database import db
from console.models import Customer, Product
from tests.factories import ProductFactory
from tests.helpers import hidden_inputs, parse, text_of


def field_errors(html: str) -> dict[str, list[str]]:
    """``{field id: [message, ...]}`` as the form page shows them under each field."""
    page = parse(html)
    found: dict[str, list[str]] = {}
    for feedback in page.select(".invalid-feedback, .help-block.form-text"):
        group = feedback.find_parent(class_="form-group")
        control = group.select_one("input[id], select[id], textarea[id]") if group else None
        key = control["id"] if control is not None else "?"
        found.setdefault(key, []).append(text_of(feedback))
    return found


def post_as_german(client, auth, url: str, data: dict) -> dict[str, list[str]]:
    user = auth.login_as("manager")
    user.language = "de"
    db.session.commit()
    form = hidden_inputs(client.get(url).get_data(as_text=True))
    response = client.post(url, data={**form, **data})
    assert response.status_code == 200  # the form again, with its messages
    return field_errors(response.get_data(as_text=True))


def test_the_console_s_own_messages_read_in_german(client, auth):
    errors = post_as_german(
        client,
        auth,
        "/admin/customer/new/",
        {"first_name": "   ", "last_name": "Lovelace", "email": "not-an-address"},
    )
    assert errors == {
        "first_name": ["Dieses Feld ist erforderlich (Leerzeichen allein zählen nicht)."],
        "email": ["Geben Sie eine gültige E-Mail-Adresse ein, etwa name@example.com."],
    }
    assert db.session.scalars(select(Customer)).all() == []


def test_wtforms_own_messages_read_in_german(client, auth):
    errors = post_as_german(
        client,
        auth,
        "/admin/product/new/",
        {"sku": "LAMP-1", "name": "Lamp", "unit_price": "abc", "stock": "-1"},
    )
    # WTForms' own message (its German catalogue) beside the console's, on one field.
    assert errors["unit_price"] == [
        "Keine gültige Dezimalzahl. Der Preis muss 0 oder mehr betragen."
    ]
    assert errors["stock"] == ["Der Bestand muss 0 oder mehr betragen."]
    assert db.session.scalars(select(Product)).all() == []


def test_a_message_with_a_value_reads_in_german(client, auth):
    ProductFactory(sku="LAMP-1", name="Lamp")
    errors = post_as_german(
        client,
        auth,
        "/admin/product/new/",
        {"sku": "lamp-1", "name": "Other lamp", "unit_price": "4.999", "stock": "1"},
    )
    assert errors["sku"] == [
        "Existiert bereits: LAMP-1 (Lamp) hat diese SKU; SKUs sind unabhängig von Groß- "
        "und Kleinschreibung eindeutig."
    ]
    assert errors["unit_price"] == [
        "Verwenden Sie höchstens zwei Nachkommastellen (Cent), etwa 4.90."
    ]
    assert len(db.session.scalars(select(Product)).all()) == 1
