"""The audit trail records every change in its own transaction, with exact diffs."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from console import audit
from console.database import db
from console.models import Customer, Order, OrderLine, Product, User
from console.services.orders import prepare_order
from tests.audit_support import events
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import accounts_datastore


def test_create_records_every_audited_value(app):
    customer = CustomerFactory(last_name="Costa", phone="+33 6 11")
    [event] = events(record_type="customer")
    assert event.action == "create"
    assert event.record_id == customer.id
    assert event.actor_email == "system" and event.actor_id is None
    assert event.record_version == 1
    assert event.changes == {
        "first_name": [None, "Ada"],
        "last_name": [None, "Costa"],
        "email": [None, "ada@example.com"],
        "phone": [None, "+33 6 11"],
    }


def test_update_records_only_the_changed_fields(app):
    customer = CustomerFactory(phone="+33 6 11")
    customer.phone = "+33 6 22"
    customer.notes = "Prefers e-mail"
    db.session.commit()
    [event] = events(record_type="customer", action="update")
    assert event.changes == {"phone": ["+33 6 11", "+33 6 22"], "notes": [None, "Prefers e-mail"]}
    assert event.record_version == 2


def test_update_of_an_expired_row_reads_the_old_value_from_the_database(app):
    product = ProductFactory(unit_price=Decimal("10.00"))
    db.session.expire(product)  # as after a commit: the old values are not in memory
    product.unit_price = Decimal("12.50")
    db.session.commit()
    [event] = events(record_type="product", action="update")
    assert event.changes == {"unit_price": ["10.00", "12.50"]}


def test_two_flushes_in_one_transaction_make_one_event_with_the_net_diff(app):
    product = ProductFactory(name="Item SKU-1", stock=5)
    product.stock = 7
    db.session.flush()
    product.stock = 9
    product.name = "Renamed"
    db.session.flush()
    product.name = "Item SKU-1"  # back to the original: no change left to report
    db.session.commit()
    [event] = events(record_type="product", action="update")
    assert event.changes == {"stock": [5, 9]}


def test_a_save_that_changes_nothing_records_nothing(app):
    customer = CustomerFactory()
    customer.first_name = "Ada"
    db.session.commit()
    assert events(record_type="customer", action="update") == []


def test_delete_records_the_values_that_were_lost(app):
    customer = CustomerFactory(last_name="Costa")
    customer_id = customer.id
    db.session.delete(customer)
    db.session.commit()
    [event] = events(record_type="customer", action="delete")
    assert event.record_id == customer_id
    assert event.record_label == "Ada Costa <ada@example.com>"
    assert event.changes == {
        "first_name": ["Ada", None],
        "last_name": ["Costa", None],
        "email": ["ada@example.com", None],
    }


def test_rolled_back_change_leaves_no_event(app):
    customer = CustomerFactory()
    before = len(events())
    customer.phone = "+33 6 99"
    db.session.add(Customer(first_name="Ben", last_name="Dubois", email="ben@example.com"))
    db.session.flush()  # written to the database, then rolled back
    db.session.rollback()
    db.session.add(Product(sku="SKU-X", name="x", unit_price=Decimal("1")))
    db.session.commit()
    after = events()
    assert len(after) == before + 1
    assert after[-1].record_type == "product"


def test_failed_commit_leaves_no_event(app):
    CustomerFactory()
    before = len(events())
    db.session.add(Customer(first_name="Dup", last_name="Dup", email="ada@example.com"))
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint, per backend
        db.session.commit()
    db.session.rollback()
    assert len(events()) == before


def test_savepoint_rollback_drops_only_its_own_events(app):
    CustomerFactory()
    with db.session.begin_nested() as savepoint:
        db.session.add(Product(sku="SKU-GONE", name="gone", unit_price=Decimal("1")))
        db.session.flush()
        savepoint.rollback()
    db.session.add(Product(sku="SKU-KEPT", name="kept", unit_price=Decimal("1")))
    db.session.commit()
    labels = [e.record_label for e in events(record_type="product")]
    assert labels == ["SKU-KEPT — kept"]


def test_order_with_lines_is_recorded_with_readable_references(app):
    customer = CustomerFactory(last_name="Costa")
    kettle = ProductFactory(sku="SKU-1", name="Item SKU-1", unit_price=Decimal("10.00"))
    lamp = ProductFactory(sku="SKU-2", unit_price=Decimal("2.50"))
    order = OrderFactory(customer=customer, lines=[(kettle, 2), (lamp, 4)])
    [created] = events(record_type="order")
    assert created.action == "create"
    assert created.changes["number"] == [None, order.number]
    assert created.changes["customer"] == [None, f"Ada Costa <ada@example.com> (#{customer.id})"]
    assert created.changes["total"] == [None, "30.00"]
    assert created.changes["status"] == [None, "pending"]
    lines = events(record_type="order_line")
    assert [(e.action, e.parent_type, e.parent_id) for e in lines] == [
        ("create", "order", order.id),
        ("create", "order", order.id),
    ]
    assert lines[0].changes == {
        "quantity": [None, 2],
        "unit_price": [None, "10.00"],
        "product": [None, f"SKU-1 — Item SKU-1 (#{kettle.id})"],
    }


def test_line_changes_are_recorded_and_bump_the_order_version(app):
    customer = CustomerFactory()
    kettle = ProductFactory(sku="SKU-1", unit_price=Decimal("10.00"))
    lamp = ProductFactory(sku="SKU-2", unit_price=Decimal("2.50"))
    order = OrderFactory(customer=customer, lines=[(kettle, 2), (lamp, 4)])
    version = order.version
    first, second = order.lines
    first.quantity = 4
    order.lines.remove(second)  # an orphan, deleted inside the flush
    prepare_order(db.session, order, None, created=False)
    db.session.commit()
    assert order.version == version + 1
    [changed] = events(record_type="order_line", action="update")
    assert changed.changes == {"quantity": [2, 4]}
    assert changed.record_version == order.version
    [removed] = events(record_type="order_line", action="delete")
    assert removed.record_id == second.id
    assert removed.changes["quantity"] == [4, None]
    assert removed.parent_id == order.id
    [total] = events(record_type="order", action="update")
    assert total.changes == {"subtotal": ["30.00", "40.00"], "total": ["30.00", "40.00"]}


def test_explicit_event_absorbs_the_automatic_diff_of_its_record(app):
    customer = CustomerFactory()
    order = OrderFactory(customer=customer, lines=[(ProductFactory(), 1)])
    manager = StaffFactory(email="manager@staff.test", role="manager")
    order.status = "approved"
    order.decided_by = manager
    audit.record(db.session, manager, "approve", order, note="Looks fine")
    db.session.commit()
    [approve] = events(record_type="order", action="approve")
    assert approve.actor_email == "manager@staff.test" and approve.actor_id == manager.id
    assert approve.note == "Looks fine"
    assert approve.changes == {
        "status": ["pending", "approved"],
        "decided_by": [None, f"manager@staff.test (#{manager.id})"],
    }
    assert events(record_type="order", action="update") == []


def test_explicit_event_rolls_back_with_its_transaction(app):
    customer = CustomerFactory()
    audit.record(db.session, None, "cancel", customer)
    db.session.rollback()
    db.session.commit()
    assert events(action="cancel") == []


def test_staff_role_changes_are_recorded_by_name(app):
    user = StaffFactory(email="clerk@staff.test", role="clerk")
    manager_role = accounts_datastore().find_role("manager")
    user.roles.append(manager_role)
    db.session.commit()
    [event] = events(record_type="staff_user", action="update")
    assert event.changes == {"roles": [["clerk"], ["clerk", "manager"]]}


def test_no_secret_ever_reaches_the_trail(app):
    from flask_security import hash_password

    user = StaffFactory(email="admin@staff.test", role="admin")
    secrets = [user.password, user.fs_uniquifier]
    user.password = hash_password("another long passphrase")
    user.tf_totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    user.tf_primary_method = "authenticator"
    user.mf_recovery_codes = ["recovery-code-one", "recovery-code-two"]
    db.session.commit()
    user.fs_uniquifier = "new-uniquifier-value-0123456789"
    db.session.commit()
    secrets += [
        user.password,
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "recovery-code-one",
        "new-uniquifier-value-0123456789",
    ]
    dump = json.dumps([[e.changes, e.note, e.record_label] for e in events()], ensure_ascii=False)
    for secret in secrets:
        assert secret not in dump
    [update] = events(record_type="staff_user", action="update")
    assert update.changes == {
        "tf_primary_method": [None, "authenticator"],
        "password": ["[redacted]", "[redacted]"],
        "tf_totp_secret": ["[redacted]", "[redacted]"],
        "mf_recovery_codes": ["[redacted]", "[redacted]"],
    }


def test_every_audited_model_has_a_spec_without_secret_fields():
    for model in (Customer, Product, Order, OrderLine, User):
        spec = audit.SPECS[model]
        for name in spec.fields:
            assert not audit.SECRET_NAME.search(name), (model, name)
    assert "password" in audit.SPECS[User].masked
    assert "fs_uniquifier" not in audit.SPECS[User].fields


@pytest.mark.parametrize(
    "leaky",
    [
        {"fields": ("name", "api_token")},
        {"fields": ("name",), "collections": ("webauthn",)},
        {"fields": ("name",), "references": {"reset_id": "password_reset"}},
    ],
)
def test_a_spec_that_would_record_a_secret_cannot_be_declared(leaky):
    with pytest.raises(ValueError, match="would record secrets"):
        audit.AuditSpec("leaky", **leaky)
    # Masked, a secret is recorded as changed and never by value: that is allowed.
    assert audit.AuditSpec("kept", fields=("name",), masked=("api_token",)).masked


def test_a_spec_naming_a_missing_attribute_stops_the_start_up(monkeypatch):
    misspelt = audit.AuditSpec("customer", fields=("first_name", "nick_name"))
    monkeypatch.setitem(audit.SPECS, Customer, misspelt)
    with pytest.raises(RuntimeError, match=r"Customer\.nick_name"):
        audit.check_specs()


def test_every_spec_is_declared_on_its_model():
    for model, spec in audit.SPECS.items():
        assert vars(model)["__audit__"] is spec
    assert audit.RECORD_TYPES == (
        "api_token",
        "credit_note",
        "customer",
        "customer_address",
        "invoice",
        "order",
        "order_line",
        "order_note",
        "product",
        "promotion",
        "return",
        "role",
        "shipping_method",
        "staff_user",
        "tax_rate",
        "webhook_endpoint",
    )


def test_explicit_changes_naming_a_secret_are_redacted(app):
    customer = CustomerFactory()
    audit.record(
        db.session,
        None,
        "update",
        customer,
        {"api_token": ("abc123-old", "xyz789-new"), "phone": (None, "+1")},
    )
    db.session.commit()
    [event] = events(record_type="customer", action="update")
    assert event.changes == {"api_token": ["[redacted]", "[redacted]"], "phone": [None, "+1"]}


def test_a_change_undone_in_the_same_transaction_records_nothing(app):
    product = ProductFactory(stock=5)
    product.stock = 6
    db.session.flush()
    product.stock = 5
    db.session.commit()
    assert events(record_type="product", action="update") == []


def test_role_permission_changes_are_recorded(app):
    role = accounts_datastore().find_role("viewer")
    before = list(role.permissions)
    role.permissions = sorted([*before, "notifications.read"])
    db.session.commit()
    [event] = events(record_type="role", action="update")
    assert event.record_label == "viewer"
    assert event.changes == {"permissions": [before, sorted([*before, "notifications.read"])]}
