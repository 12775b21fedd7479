"""Two people editing one record: the second save is refused and told what changed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from console import audit
from console.admin.base import SecuredModelView
from console.admin.registry import register_view
from console.database import db
from console.models import Customer, Order, Product, User
from console.permissions import STAFF_MANAGE
from console.services.concurrency import StaleRecordError, ensure_current
from tests.audit_support import (
    events,
    flashes,
    open_form,
    signed_in,
    staff_email,
)
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import Auth, parse


def test_second_customer_save_is_refused_and_the_first_stands(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    alice, bob = signed_in(app, "clerk"), signed_in(app, "manager")
    alice_form, bob_form = open_form(alice, url), open_form(bob, url)

    alice_form["phone"] = "+33 6 11"
    saved = alice.post(url, data=alice_form)
    assert saved.status_code == 302

    bob_form["phone"] = "+33 6 22"
    bob_form["notes"] = "Bob's note"
    refused = bob.post(url, data=bob_form)
    assert refused.status_code == 200
    message = flashes(refused)
    assert "Someone else changed this customer" in message
    assert staff_email("clerk") in message
    assert "phone: +33 6 00 → +33 6 11" in message
    assert "nothing was overwritten" in message

    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.phone, stored.notes) == ("+33 6 11", None)
    assert [e.actor_email for e in events(record_type="customer", action="update")] == [
        staff_email("clerk")
    ]
    # The refused page keeps Bob's typing, so that nothing he wrote is lost: beside the
    # current values, and carried for "Use my entries" (test_edit_conflict.py).
    carried = parse(refused.get_data(as_text=True)).select_one(
        "form#edit-conflict-form input[name=notes]"
    )
    assert carried is not None and carried["value"] == "Bob's note"


def test_second_product_save_is_refused_and_the_first_stands(app):
    product = ProductFactory(unit_price=Decimal("10.00"), stock=5)
    url = f"/admin/product/edit/?id={product.id}"
    first, second = signed_in(app, "manager"), signed_in(app, "admin")
    first_form, second_form = open_form(first, url), open_form(second, url)

    first_form["unit_price"] = "12.50"
    assert first.post(url, data=first_form).status_code == 302
    second_form["stock"] = "99"
    refused = second.post(url, data=second_form)
    assert "unit price: 10.00 → 12.50" in flashes(refused)

    db.session.expire_all()
    stored = db.session.get(Product, product.id)
    assert (stored.unit_price, stored.stock) == (Decimal("12.50"), 5)


def test_second_order_save_is_refused_and_the_first_stands(app):
    customer = CustomerFactory()
    order = OrderFactory(
        customer=customer, lines=[(ProductFactory(sku="SKU-1", unit_price=Decimal("10.00")), 2)]
    )
    url = f"/admin/order/edit/?id={order.id}"
    first, second = signed_in(app, "clerk"), signed_in(app, "manager")
    first_form, second_form = open_form(first, url), open_form(second, url)

    first_form["lines-0-quantity"] = "3"  # only a line changes: the order's version moves
    assert first.post(url, data=first_form).status_code == 302
    second_form["coupon_code"] = "SPRING"
    refused = second.post(url, data=second_form)
    message = flashes(refused)
    assert "Someone else changed this order" in message
    assert "quantity: 2 → 3" in message

    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert stored.coupon_code is None
    assert [line.quantity for line in stored.lines] == [3]
    assert stored.total == Decimal("30.00")


def test_an_approval_racing_an_edit_refuses_the_edit(app):
    customer = CustomerFactory()
    order = OrderFactory(customer=customer, lines=[(ProductFactory(), 1)])
    url = f"/admin/order/edit/?id={order.id}"
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, url)

    # A manager approves meanwhile, through the audit API the order workflow uses.
    from console.models import User

    manager = (
        signed_in(app, "manager")
        and db.session.query(User).filter_by(email=staff_email("manager")).one()
    )
    stored = db.session.get(Order, order.id)
    stored.status = "approved"
    audit.record(db.session, manager, "approve", stored)
    db.session.commit()

    form["lines-0-quantity"] = "5"
    refused = clerk.post(url, data=form)
    message = flashes(refused)
    assert "approve" in message and "status: pending → approved" in message
    db.session.expire_all()
    assert [line.quantity for line in db.session.get(Order, order.id).lines] == [1]


def test_a_replayed_form_is_refused(app):
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, url)
    form["first_name"] = "Adeline"
    assert clerk.post(url, data=form).status_code == 302
    form["first_name"] = "Adele"
    refused = clerk.post(url, data=form)  # the same form, sent again
    assert "Someone else changed this customer" in flashes(refused)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).first_name == "Adeline"


def test_a_form_without_its_version_is_refused(app):
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, url)
    del form["version"]
    form["first_name"] = "Adeline"
    refused = clerk.post(url, data=form)
    assert "does not say which version" in flashes(refused)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).first_name == "Ada"


def test_editing_a_record_deleted_meanwhile_says_so_and_changes_nothing(app):
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"
    clerk, manager = signed_in(app, "clerk"), signed_in(app, "manager")
    form = open_form(clerk, url)
    delete_form = open_form(manager, url)
    deleted = manager.post(
        "/admin/customer/delete/",
        data={"id": str(customer.id), "csrf_token": delete_form["csrf_token"]},
    )
    assert deleted.status_code == 302
    form["first_name"] = "Adeline"
    refused = clerk.post(url, data=form, follow_redirects=True)
    message = flashes(refused)
    assert "was deleted by " + staff_email("manager") in message
    assert "nothing was changed" in message
    assert db.session.query(Customer).count() == 0


def test_the_edit_form_carries_the_version_it_was_opened_on(app):
    customer = CustomerFactory()
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, f"/admin/customer/edit/?id={customer.id}")
    assert form["version"] == "1"
    customer.phone = "+1"
    db.session.commit()
    assert open_form(clerk, f"/admin/customer/edit/?id={customer.id}")["version"] == "2"


class StaffProbeAdmin(SecuredModelView):
    """A minimal staff view, as any view built on ``SecuredModelView`` would be."""

    read_permission = STAFF_MANAGE
    write_permission = STAFF_MANAGE
    form_columns = ["email", "active"]


def test_every_model_view_gets_the_check_staff_accounts_included(app):
    register_view(app, StaffProbeAdmin(User, db, endpoint="staffprobe"))
    target = StaffFactory(email="target@example.com", role="clerk")
    url = f"/admin/staffprobe/edit/?id={target.id}"
    first, second = signed_in(app, "admin"), signed_in(app, "admin")
    first_form, second_form = open_form(first, url), open_form(second, url)
    assert first_form["version"] == "1"
    # Staff accounts get the History link like every audited record.
    assert "history-link" in first.get(url).get_data(as_text=True)

    # Signing in updates the account row but is not an edit: forms stay valid.
    signed_in_target = app.test_client()
    assert Auth(signed_in_target).login("target@example.com").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, target.id).version == 1

    del first_form["active"]  # the box unticked: deactivate the account
    assert first.post(url, data=first_form).status_code == 302
    second_form["email"] = "renamed@example.com"
    refused = second.post(url, data=second_form)
    message = flashes(refused)
    assert "Someone else changed this staff user" in message
    assert "active: Yes → No" in message

    db.session.expire_all()
    stored = db.session.get(User, target.id)
    assert (stored.email, stored.active, stored.version) == ("target@example.com", False, 2)


def test_a_workflow_action_based_on_a_stale_version_is_refused(app):
    """What an approve button carrying the version it was shown gets after an edit."""
    order = OrderFactory(customer=CustomerFactory(), lines=[(ProductFactory(), 1)])
    shown = order.version
    order.coupon_code = "SPRING"
    db.session.commit()
    with pytest.raises(StaleRecordError) as refused:
        ensure_current(db.session, order, str(shown))
    assert "coupon code: (empty) → SPRING" in refused.value.message
    assert [e.action for e in refused.value.events] == ["update"]
    ensure_current(db.session, order, str(order.version))  # the current version passes


def test_an_edit_link_with_an_impossible_id_gets_a_message(app):
    clerk = signed_in(app, "clerk")
    for bad in ("abc", "99999999999999999999", "0"):
        response = clerk.get(f"/admin/customer/edit/?id={bad}", follow_redirects=True)
        assert response.status_code == 200
        assert "There is no record with id" in flashes(response)
