"""SKUs are unique regardless of case: in the form, in the schema and through the migration."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from console.database import db
from console.models import Product
from console.schema import downgrade, upgrade
from tests.factories import ProductFactory
from tests.helpers import count_rows, flashed_errors, submit

NEW = {"sku": "sku-0001", "name": "Kettle", "unit_price": "39.90", "stock": "3", "active": "y"}


@pytest.fixture
def manager(auth):
    return auth.login_as("manager")


def test_form_refuses_a_sku_differing_only_in_case(client, manager):
    ProductFactory(sku="SKU-0001", name="Teapot")
    response = submit(client, "/admin/product/new/", NEW)
    assert response.status_code == 200
    errors = " ".join(flashed_errors(response.get_data(as_text=True)))
    assert "Already exists: SKU-0001 (Teapot)" in errors
    assert count_rows(Product) == 1


def test_edit_to_another_products_sku_in_other_case_is_refused(client, manager):
    ProductFactory(sku="SKU-0001", name="Teapot")
    other = ProductFactory(sku="SKU-0002", name="Kettle")
    response = submit(client, f"/admin/product/edit/?id={other.id}", {**NEW, "sku": "Sku-0001"})
    assert response.status_code == 200
    assert "Already exists" in " ".join(flashed_errors(response.get_data(as_text=True)))
    db.session.expire_all()
    assert other.sku == "SKU-0002"


def test_a_product_may_change_the_case_of_its_own_sku(client, manager):
    product = ProductFactory(sku="SKU-0001", name="Teapot")
    response = submit(client, f"/admin/product/edit/?id={product.id}", NEW)
    assert response.status_code == 302
    db.session.expire_all()
    assert product.sku == "sku-0001"


def test_the_database_refuses_a_sku_differing_only_in_case(app):
    ProductFactory(sku="SKU-0001")
    db.session.add(Product(sku="sku-0001", name="Copy", unit_price=Decimal("1"), stock=0))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalars(select(Product.sku)).all() == ["SKU-0001"]


def _revision(app) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _add_product(sku: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO product (sku, name, unit_price, stock) VALUES (:sku, :sku, 1, 0)"),
            {"sku": sku},
        )


def test_migration_names_clashing_skus_and_changes_nothing(app):
    db.session.remove()
    downgrade(app, "0008")  # the revision before the case-insensitive SKUs
    for sku in ("ab-1", "AB-1", "Ab-1", "cd-2", "CD-2", "EF-3"):
        _add_product(sku)

    with pytest.raises(RuntimeError) as refused:
        upgrade(app)

    message = str(refused.value)
    assert "2 group(s)" in message
    assert "AB-1, Ab-1, ab-1" in message
    assert "CD-2, cd-2" in message
    assert "EF-3" not in message
    assert _revision(app) == "0008"
    assert count_rows(Product) == 6
    db.session.remove()  # its open transaction would hold the table the upgrade alters

    # Once a person has merged the clashing products, the upgrade goes through.
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM product WHERE sku <> upper(sku)"))
    upgrade(app, "0009")
    assert _revision(app) == "0009"
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO product (sku, name, unit_price, stock) VALUES ('ef-3', 'x', 1, 0)")
        )
