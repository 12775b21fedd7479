"""Customers' language: kept on the customer (console form, API), and their e-mails and
order page written in it (subject, words, amounts), whoever's request sent them."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from console.database import db
from console.models import Customer, Order
from console.notify.dispatcher import deliver_due
from console.services.order_links import link_for
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, api_secret, bearer
from tests.fixtures.servers import mail_relay
from tests.helpers import form_token, parse, text_of

pytestmark = pytest.mark.settings(**mail_relay(), CONSOLE_BASE_URL="http://console.test")

NNBSP = "\u202f"  # Babel's group separator in French: a narrow no-break space
NBSP = "\xa0"  # and the space before the currency sign, in German and French


def take_order(client, customer: Customer, product, quantity: int) -> Order:
    """An English-speaking clerk's order, through the console's order form."""
    token = form_token(client, "/admin/order/new/")
    response = client.post(
        "/admin/order/new/",
        data={
            "csrf_token": token,
            "customer": str(customer.id),
            "coupon_code": "",
            "lines-0-product": str(product.id),
            "lines-0-quantity": str(quantity),
        },
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    order = db.session.scalar(select(Order).where(Order.customer_id == customer.id))
    assert order is not None, unescape(response.get_data(as_text=True))[:2000]
    return order


def received(smtp_server, to: str):
    deliver_due()
    messages = [message for _, message in smtp_server.messages if message["To"] == to]
    assert len(messages) == 1, [m["Subject"] for _, m in smtp_server.messages]
    message = messages[0]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return message["Subject"], text, html


def test_a_german_customers_mail_arrives_in_german(client, auth, smtp_server):
    auth.login_as("clerk")
    # The customer's language is set on the console's customer form.
    token = form_token(client, "/admin/customer/new/")
    response = client.post(
        "/admin/customer/new/",
        data={
            "csrf_token": token,
            "first_name": "Anna",
            "last_name": "Schmidt",
            "email": "anna@example.com",
            "phone": "",
            "language": "de",
            "notes": "",
        },
    )
    assert response.status_code == 302, unescape(response.get_data(as_text=True))[:2000]
    customer = db.session.scalar(select(Customer).where(Customer.email == "anna@example.com"))
    assert customer.language == "de"
    kettle = ProductFactory(sku="KET-1", unit_price=Decimal("12.50"), stock=200)

    order = take_order(client, customer, kettle, 100)

    subject, text, html = received(smtp_server, "anna@example.com")
    assert subject == f"Our shop: Wir haben Ihre Bestellung {order.number} erhalten"
    assert f"1.250,00{NBSP}€" in text and "1,250.00" not in text
    assert f"1.250,00{NBSP}€" in html and parse(html).find("html")["lang"] == "de"
    # The clerk's own pages stayed English meanwhile.
    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    assert page.find("html")["lang"] == "en"
    assert text_of(page.find(id="order-total")) == "€1,250.00"


@pytest.mark.settings(DEFAULT_LOCALE="fr")
def test_a_customer_without_a_language_gets_the_shops(client, auth, smtp_server):
    auth.login_as("clerk")
    customer = CustomerFactory(email="marie@example.com")
    assert customer.language is None
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = take_order(client, customer, lamp, 1)
    subject, text, _html = received(smtp_server, "marie@example.com")
    assert subject == f"Our shop : nous avons bien reçu votre commande {order.number}"
    assert f"1{NNBSP}234,56{NBSP}€" in text


def test_an_english_customer_reads_english_whatever_the_staff_member_reads(
    client, auth, smtp_server
):
    clerk = auth.login_as("clerk")
    clerk.language = "de"
    db.session.commit()
    customer = CustomerFactory(email="ada@example.com", language="en")
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = take_order(client, customer, lamp, 1)
    subject, text, _html = received(smtp_server, "ada@example.com")
    assert subject == f"Our shop: we received your order {order.number}"
    assert "€1,234.56" in text


def test_the_customers_order_page_is_in_their_language(client):
    customer = CustomerFactory(email="marie@example.com", language="fr")
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = OrderFactory(customer=customer, lines={lamp: 1})
    path = re.sub(r"^https?://[^/]+", "", link_for(order))
    page = parse(client.get(path, headers={"Accept-Language": "de"}).get_data(as_text=True))
    assert page.find("html")["lang"] == "fr"
    assert f"1{NNBSP}234,56{NBSP}€" in page.get_text()


def test_the_api_keeps_a_customers_language_and_refuses_an_unknown_one(client):
    headers = bearer(api_secret(["customers.read", "customers.write"]))
    created = client.post(
        "/api/v1/customers",
        json={
            "first_name": "Anna",
            "last_name": "Schmidt",
            "email": "a@example.com",
            "language": "de",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["language"] == "de"
    refused = client.post(
        "/api/v1/customers",
        json={"first_name": "Jo", "last_name": "Doe", "email": "j@example.com", "language": "xx"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert db.session.scalar(select(Customer).where(Customer.email == "j@example.com")) is None
    # null: the shop's language.
    url = f"/api/v1/customers/{created.get_json()['id']}"
    changed = client.patch(
        url, json={"language": None}, headers={**headers, "If-Match": created.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.get_json()["language"] is None


def test_the_customer_form_refuses_a_forged_language(client, auth):
    auth.login_as("clerk")
    token = form_token(client, "/admin/customer/new/")
    response = client.post(
        "/admin/customer/new/",
        data={
            "csrf_token": token,
            "first_name": "Jo",
            "last_name": "Doe",
            "email": "jo@example.com",
            "language": "../../etc",
        },
    )
    assert response.status_code == 200
    assert db.session.scalar(select(Customer).where(Customer.email == "jo@example.com")) is None


def test_a_french_customers_mail_arrives_in_french_whatever_the_shops_language(
    client, auth, smtp_server
):
    auth.login_as("clerk")  # an English-speaking clerk, in an English-speaking shop
    customer = CustomerFactory(email="marie@example.com", language="fr")
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = take_order(client, customer, lamp, 1)
    subject, text, html = received(smtp_server, "marie@example.com")
    assert subject == f"Our shop : nous avons bien reçu votre commande {order.number}"
    assert f"1{NNBSP}234,56{NBSP}€" in text and "1,234.56" not in text
    assert "Merci pour votre commande" in text
    assert parse(html).find("html")["lang"] == "fr"
