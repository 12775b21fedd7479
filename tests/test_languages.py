"""Languages: which one a page is written in (profile, browser, shop), the catalogues
compiled at start, and Flask-Admin's and Flask-Security-Too's own texts following it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select, update

from console.database import db
from console.i18n import compile_catalogues
from console.models import Order, User
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.helpers import parse, submit, text_of

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
FRENCH = {"Accept-Language": "fr-CH, fr;q=0.9, de;q=0.5"}


def page_language(client, url: str, headers: dict | None = None) -> str:
    html = client.get(url, headers=headers or {}).get_data(as_text=True)
    return parse(html).find("html")["lang"]


def language_of(email: str) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(User.language).where(User.email == email))


def test_the_browser_decides_when_the_profile_names_no_language(client, auth):
    auth.login_as("clerk")
    assert page_language(client, "/admin/customer/", GERMAN) == "de"
    assert page_language(client, "/admin/customer/", FRENCH) == "fr"
    assert page_language(client, "/admin/customer/") == "en"


def test_the_profile_language_beats_the_browser(client, auth):
    clerk = auth.login_as("clerk")
    db.session.execute(update(User).where(User.id == clerk.id).values(language="fr"))
    db.session.commit()
    assert page_language(client, "/admin/customer/", GERMAN) == "fr"


@pytest.mark.settings(DEFAULT_LOCALE="de")
def test_the_shops_language_when_neither_names_one_it_speaks(client, auth):
    assert page_language(client, "/login") == "de"
    auth.login_as("clerk")
    assert page_language(client, "/admin/customer/", {"Accept-Language": "ja, pt;q=0.8"}) == "de"
    assert page_language(client, "/admin/customer/") == "de"


@pytest.mark.parametrize(
    "forged", ["xx-YY", "de;q=abc", "*", ";;;,,,", "en-US;q=0, \x7f", "a" * 500]
)
def test_a_forged_accept_language_falls_back_to_the_default(client, auth, forged):
    auth.login_as("clerk")
    response = client.get("/admin/customer/", headers={"Accept-Language": forged})
    assert response.status_code == 200
    assert parse(response.get_data(as_text=True)).find("html")["lang"] == "en"


def test_a_language_the_console_does_not_speak_in_a_profile_falls_back(client, auth):
    clerk = auth.login_as("clerk")
    db.session.execute(update(User).where(User.id == clerk.id).values(language="klingon"))
    db.session.commit()
    assert page_language(client, "/admin/customer/", GERMAN) == "de"
    assert page_language(client, "/admin/customer/") == "en"


def test_each_person_chooses_their_language_on_their_profile(client, auth):
    auth.login_as("clerk")
    page = parse(client.get("/admin/profile/").get_data(as_text=True))
    options = [option["value"] for option in page.select("#language option")]
    assert options == ["", "en", "de", "fr"]
    response = submit(client, "/admin/profile/", {"language": "de", "timezone": "Europe/Berlin"})
    assert response.status_code == 302
    assert language_of("clerk@staff.test") == "de"
    page = parse(client.get("/admin/profile/").get_data(as_text=True))
    assert page.select_one("#language option[selected]")["value"] == "de"
    assert page.find("html")["lang"] == "de"
    # Blank: the browser decides again.
    assert submit(client, "/admin/profile/", {"language": "", "timezone": ""}).status_code == 302
    assert language_of("clerk@staff.test") is None


@pytest.mark.parametrize("forged", ["xx", "../../etc", "DE ", "x" * 300])
def test_an_unknown_language_on_the_profile_is_kept_as_the_browsers(client, auth, forged):
    clerk = auth.login_as("clerk")
    db.session.execute(update(User).where(User.id == clerk.id).values(language="fr"))
    db.session.commit()
    response = submit(client, "/admin/profile/", {"language": forged, "timezone": ""})
    assert response.status_code == 302
    assert language_of("clerk@staff.test") == ("de" if forged == "DE " else None)


def test_flask_admins_own_texts_come_out_in_german(client, auth):
    auth.login_as("manager")
    CustomerFactory()
    page = parse(client.get("/admin/customer/", headers=GERMAN).get_data(as_text=True))
    tabs = [text_of(link) for link in page.select(".nav-tabs a, .nav-tabs .nav-link")]
    assert "Liste (1)" in tabs or any(tab.startswith("Liste") for tab in tabs)
    assert any(tab.startswith("Erstellen") for tab in tabs)
    form = parse(client.get("/admin/customer/new/", headers=GERMAN).get_data(as_text=True))
    assert "Speichern" in [button.get("value") for button in form.select("input[type=submit]")]


def test_flask_security_sign_in_page_follows_the_language(client):
    german = parse(client.get("/login", headers=GERMAN).get_data(as_text=True))
    assert text_of(german.find("h1")) == "Anmelden"
    assert german.find("html")["lang"] == "de"
    french = parse(client.get("/login", headers=FRENCH).get_data(as_text=True))
    assert text_of(french.find("h1")) == "Connexion"
    english = parse(client.get("/login").get_data(as_text=True))
    assert text_of(english.find("h1")) == "Login"


def test_catalogues_are_compiled_when_missing_or_older_than_their_source(tmp_path):
    po = tmp_path / "de" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n\nmsgid "Save"\nmsgstr "Sichern"\n')
    mo = po.with_suffix(".mo")
    assert compile_catalogues(tmp_path) == [mo] and mo.exists()
    # Up to date: left alone.
    assert compile_catalogues(tmp_path) == []
    # The source changed after the last compile: compiled again.
    os.utime(mo, (po.stat().st_mtime - 10, po.stat().st_mtime - 10))
    assert compile_catalogues(tmp_path) == [mo]
    assert b"Sichern" in mo.read_bytes()
    assert [path.name for path in mo.parent.iterdir()] == sorted(["messages.po", "messages.mo"])


@pytest.mark.parametrize(
    ("language", "total"),
    [("en", "€1,234.56"), ("de", "1.234,56\xa0€"), ("fr", "1\u202f234,56\xa0€")],
)
def test_amounts_read_in_the_persons_locale(client, auth, language, total):
    manager = auth.login_as("manager")
    manager.language = language
    db.session.commit()
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("1234.56"), stock=5)
    order = OrderFactory(customer=CustomerFactory(), lines={lamp: 1})
    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    # Read raw: the no-break spaces Babel writes are part of the format.
    assert page.find(id="order-total").get_text(strip=True) == total
    listing = parse(client.get("/admin/order/").get_data(as_text=True))
    assert [td.get_text(strip=True) for td in listing.select("td.col-total")] == [total]


@pytest.mark.parametrize(
    ("language", "taken", "cell"),
    [
        ("de", "25.11.2026, 00:30 CET", "25.11.2026, 00:30"),
        ("fr", "25 nov. 2026 00:30 CET", "25 nov. 2026 00:30"),
        ("en", "2026-11-25 00:30 CET", "2026-11-25 00:30"),
    ],
)
def test_times_read_in_the_persons_language_and_zone(client, auth, language, taken, cell):
    manager = auth.login_as("manager")
    manager.language, manager.timezone = language, "Europe/Berlin"
    db.session.commit()
    lamp = ProductFactory(sku="LAMP-1", stock=5)
    order = OrderFactory(customer=CustomerFactory(), lines={lamp: 1})
    late = dt.datetime(2026, 11, 24, 23, 30)  # already the 25th in Berlin
    db.session.execute(update(Order).where(Order.id == order.id).values(created_at=late))
    db.session.commit()
    page = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(as_text=True))
    assert text_of(page.find(id="order-taken")).endswith(taken)
    listing = parse(client.get("/admin/order/").get_data(as_text=True))
    assert [text_of(td) for td in listing.select("td.col-created_at")] == [cell]


def test_the_order_desks_messages_are_in_the_readers_language(app):
    """What the order form tells a clerk about a code or a quantity reads in their
    language, with amounts written their way."""
    from console.services.pricing import MAX_QUANTITY, LineInput, PromotionInput, quote

    now = dt.datetime(2026, 11, 25, 12, 0)
    lines = [
        LineInput(
            sku="TEA",
            name="Tea",
            unit_price=Decimal("12.50"),
            tax_rate=Decimal("0"),
            tax_name="None",
            quantity=2,
        )
    ]
    needs_more = PromotionInput(
        code="OFF", kind="percentage", value=Decimal("10"), id=1, minimum_subtotal=Decimal("1234.5")
    )
    with app.test_request_context("/"), force_locale("de"):
        unknown = quote(lines, code="NOPE", now=now)
        assert list(unknown.errors["coupon_code"]) == [
            "Es gibt keinen Gutscheincode NOPE; prüfen Sie die Schreibweise."
        ]
        below = quote(lines, code="OFF", promotion=needs_more, now=now)
        assert list(below.errors["coupon_code"]) == [
            "Der Code OFF setzt eine Zwischensumme von mindestens 1.234,50\xa0€ voraus; die "
            "dieser Bestellung beträgt 25,00\xa0€."
        ]
        too_many = quote([dataclasses.replace(lines[0], quantity=MAX_QUANTITY + 1)], now=now)
        assert list(too_many.errors["lines-0-quantity"]) == [
            "Die Menge muss mindestens 1 und höchstens 1.000.000 betragen."
        ]
    with app.test_request_context("/"), force_locale("fr"):
        unknown = quote(lines, code="NOPE", now=now)
        assert list(unknown.errors["coupon_code"]) == [
            "Il n’existe pas de code promo NOPE ; vérifiez l’orthographe."
        ]


def test_a_refused_stock_adjustment_says_why_in_the_readers_language(app):
    """The Adjust stock page's refusals, written by the stock service, read in German."""
    from console.services import stock
    from console.services.errors import DomainError
    from tests.factories import StaffFactory

    ProductFactory(sku="A", stock=5)
    manager = StaffFactory(role="manager")
    rows = [stock.AdjustmentRow("A", 6), stock.AdjustmentRow("NOPE", 1)]
    with (
        app.test_request_context("/"),
        force_locale("de"),
        pytest.raises(DomainError) as refused,
    ):
        stock.adjust(db.session, manager, "damaged", rows)
    assert refused.value.message == (
        "Nichts wurde geändert. Zeile 2: Es gibt kein Produkt mit der Artikelnummer 'NOPE'."
    )
    with (
        app.test_request_context("/"),
        force_locale("de"),
        pytest.raises(DomainError) as refused,
    ):
        stock.adjust(db.session, manager, "damaged", rows[:1])
    assert refused.value.message == (
        "Nichts wurde geändert. A: 5 auf Lager, daher können 6 nicht entnommen werden; der "
        "Bestand kann nicht unter null fallen."
    )
