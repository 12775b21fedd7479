"""A priced shop for the pricing tests: tax rates, products, shipping methods, codes."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from console.database import db
from console.models import Promotion, ShippingMethod, TaxRate
from tests.factories import CustomerFactory, ProductFactory
from tests.helpers import parse, text_of

D = Decimal


def priced_shop() -> dict:
    """Two customers, products at 20 %, 5.5 % and 0 %, two shipping methods."""
    standard = TaxRate(name="Standard", rate=D("20.00"))
    reduced = TaxRate(name="Reduced", rate=D("5.50"))
    db.session.add_all([standard, reduced])
    db.session.commit()
    zero = db.session.scalar(select(TaxRate).where(TaxRate.name == "Zero"))
    shop = {
        "ada": CustomerFactory(email="ada@example.com"),
        "bob": CustomerFactory(first_name="Bob", email="bob@example.com"),
        "kettle": ProductFactory(
            sku="KET-1", name="Kettle", unit_price=D("39.90"), stock=50, tax_rate=standard
        ),
        "tea": ProductFactory(
            sku="TEA-1", name="Green tea", unit_price=D("4.35"), stock=50, tax_rate=reduced
        ),
        "book": ProductFactory(
            sku="BOOK-1", name="Cook book", unit_price=D("12.00"), stock=2, tax_rate=zero
        ),
        "standard": standard,
        "reduced": reduced,
        "zero": zero,
    }
    post = ShippingMethod(name="Post", price=D("4.90"), free_above=D("50.00"))
    courier = ShippingMethod(name="Courier", price=D("12.00"))
    db.session.add_all([post, courier])
    db.session.commit()
    shop.update(post=post, courier=courier)
    return shop


def promotion(code: str, kind: str = "percentage", value: str = "10", **terms) -> Promotion:
    made = Promotion(code=code, kind=kind, value=D(value), **terms)
    db.session.add(made)
    db.session.commit()
    return made


def order_form(customer, *lines, coupon_code: str = "", shipping=None, **extra) -> dict:
    """The order form as a person fills it: customer, code, shipping, product lines."""
    data = {
        "customer": str(customer.id),
        "coupon_code": coupon_code,
        "shipping_method": str(shipping.id) if shipping is not None else "__None",
    }
    for i, (product, quantity) in enumerate(lines):
        data[f"lines-{i}-product"] = str(product.id)
        data[f"lines-{i}-quantity"] = str(quantity)
    data.update(extra)
    return data


def field_errors(html: str, name: str) -> list[str]:
    """The messages shown on form field ``name`` (its invalid-feedback block)."""
    field = parse(html).find(attrs={"name": name})
    assert field is not None, f"no field {name!r} on the page"
    group = field.find_parent(class_="form-group") or field.parent
    return [text_of(block) for block in group.select(".invalid-feedback, .help-block")]
