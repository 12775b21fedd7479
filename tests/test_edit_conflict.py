"""After a refused save: the person's entries beside the current values, and re-applying them.

Two people open the same record; the second save is refused (``test_concurrency.py``).
The page that answers shows the current values in the form with the current version,
a table of the fields where the person's entries differ, and "Use my entries", which
puts the chosen entries back into the form without saving; Save then stores them, and
is checked against the version the person now saw.
"""

from __future__ import annotations

from decimal import Decimal

from console.database import db
from console.models import Customer, Order, Product, User
from tests.audit_support import flashes, open_form, signed_in, staff_email
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    PromotionFactory,
    StaffFactory,
)
from tests.helpers import csrf_token_from, parse, text_of


def edit_form(html: str) -> dict[str, str | list[str]]:
    """The values the page's edit form would post (the conflict form left out)."""
    form = parse(html).select_one("form.admin-form")
    assert form is not None, "the page has no edit form"
    fields: dict[str, str | list[str]] = {"csrf_token": csrf_token_from(html)}
    for field in form.find_all("input", attrs={"name": True}):
        if field.get("type") == "checkbox" and not field.has_attr("checked"):
            continue
        if field.get("type") == "submit":
            continue
        fields[field["name"]] = field.get("value", "on")
    for area in form.find_all("textarea", attrs={"name": True}):
        fields[area["name"]] = area.get_text().strip()
    for select in form.find_all("select", attrs={"name": True}):
        fields[select["name"]] = [
            o.get("value", "") for o in select.find_all("option", selected=True)
        ]
    return fields


def reapply_form(html: str) -> dict[str, list[str]]:
    """What the page's "Use my entries" form would post, ticked boxes included."""
    form = parse(html).select_one("form#edit-conflict-form")
    assert form is not None, "the page has no 'Use my entries' form"
    posted: dict[str, list[str]] = {}
    for field in form.find_all("input", attrs={"name": True}):
        if field.get("type") == "checkbox" and not field.has_attr("checked"):
            continue
        posted.setdefault(field["name"], []).append(field.get("value", ""))
    return posted


def comparison(html: str) -> dict[str, tuple[str, str, bool]]:
    """The comparison table: field label -> (your entry, current value, "use mine" ticked)."""
    table = parse(html).select_one("table#edit-conflict-table")
    assert table is not None, "the page has no comparison table"
    headers = [text_of(th) for th in table.select("thead th")]
    assert headers[:3] == ["Field", "Your entry", "Current value"]
    rows = {}
    for row in table.select("tbody tr"):
        box = row.find("input", attrs={"type": "checkbox"})
        current = row.select_one("td.conflict-current")
        badge = current.select_one(".badge")
        if badge is not None:
            badge.extract()
        rows[text_of(row.th)] = (
            text_of(row.select_one("td.conflict-mine")),
            text_of(current),
            box.has_attr("checked"),
        )
    return rows


def test_a_refused_save_shows_both_and_takes_the_current_version(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    alice, bob = signed_in(app, "clerk"), signed_in(app, "manager")
    alice_form, bob_form = open_form(alice, url), open_form(bob, url)

    bob_form["phone"] = "+33 6 11"
    assert bob.post(url, data=bob_form).status_code == 302

    alice_form["notes"] = "Calls after six"
    refused = alice.post(url, data=alice_form)
    assert refused.status_code == 200
    page = refused.get_data(as_text=True)
    message = flashes(refused)
    assert "Someone else changed this customer" in message
    assert staff_email("manager") in message
    assert "nothing was overwritten" in message

    # The form now holds the current record and version: the next Save is based on them.
    form = edit_form(page)
    assert form["version"] == "2"
    assert (form["phone"], form["notes"]) == ("+33 6 11", "")
    # Only the differing fields, by their labels; what only the other person changed is
    # not ticked, so that re-applying does not undo it unless Alice chooses to.
    assert comparison(page) == {
        "Phone": ("+33 6 00", "+33 6 11", False),
        "Notes": ("Calls after six", "(empty)", True),
    }
    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.phone, stored.notes, stored.version) == ("+33 6 11", None, 2)


def test_use_my_entries_fills_the_form_and_save_stores_them(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    alice, bob = signed_in(app, "clerk"), signed_in(app, "manager")
    alice_form, bob_form = open_form(alice, url), open_form(bob, url)
    bob_form["phone"] = "+33 6 11"
    assert bob.post(url, data=bob_form).status_code == 302
    alice_form["notes"] = "Calls after six"
    alice_form["first_name"] = "Adeline"
    refused = alice.post(url, data=alice_form).get_data(as_text=True)

    filled = alice.post(url, data=reapply_form(refused))
    assert filled.status_code == 200
    assert "nothing is saved until you press Save" in flashes(filled)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).version == 2  # nothing written yet

    form = edit_form(filled.get_data(as_text=True))
    assert form["version"] == "2"
    assert (form["first_name"], form["notes"], form["phone"]) == (
        "Adeline",
        "Calls after six",
        "+33 6 11",
    )
    assert alice.post(url, data=form).status_code == 302

    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.first_name, stored.notes, stored.phone, stored.version) == (
        "Adeline",
        "Calls after six",
        "+33 6 11",
        3,
    )


def test_a_field_both_changed_is_re_applied_only_when_ticked(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    alice, bob = signed_in(app, "clerk"), signed_in(app, "manager")
    alice_form, bob_form = open_form(alice, url), open_form(bob, url)
    bob_form["phone"] = "+33 6 11"
    assert bob.post(url, data=bob_form).status_code == 302
    alice_form["phone"] = "+33 6 22"
    refused = alice.post(url, data=alice_form).get_data(as_text=True)
    assert comparison(refused) == {"Phone": ("+33 6 22", "+33 6 11", False)}

    untouched = alice.post(url, data=reapply_form(refused)).get_data(as_text=True)
    assert edit_form(untouched)["phone"] == "+33 6 11"

    chosen = reapply_form(refused) | {"_take_mine": ["phone"]}
    filled = alice.post(url, data=chosen).get_data(as_text=True)
    assert edit_form(filled)["phone"] == "+33 6 22"
    assert comparison(filled)["Phone"][2] is True
    assert alice.post(url, data=edit_form(filled)).status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).phone == "+33 6 22"


def test_a_change_between_re_applying_and_saving_is_caught_again(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    alice, bob = signed_in(app, "clerk"), signed_in(app, "manager")
    alice_form, bob_form = open_form(alice, url), open_form(bob, url)
    bob_form["phone"] = "+33 6 11"
    assert bob.post(url, data=bob_form).status_code == 302
    alice_form["notes"] = "Calls after six"
    refused = alice.post(url, data=alice_form).get_data(as_text=True)
    filled = alice.post(url, data=reapply_form(refused)).get_data(as_text=True)

    # Bob changes the customer again while Alice looks at her re-applied entries.
    again = open_form(bob, url)
    again["phone"] = "+33 6 22"
    assert bob.post(url, data=again).status_code == 302

    second = alice.post(url, data=edit_form(filled))
    assert second.status_code == 200
    assert "Someone else changed this customer" in flashes(second)
    assert "phone: +33 6 11 → +33 6 22" in flashes(second)
    page = second.get_data(as_text=True)
    assert edit_form(page)["version"] == "3"
    assert comparison(page)["Phone"] == ("+33 6 11", "+33 6 22", False)
    assert comparison(page)["Notes"][0] == "Calls after six"
    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.notes, stored.phone, stored.version) == (None, "+33 6 22", 3)

    # The form based on the version the page now shows saves.
    assert (
        alice.post(
            url, data=edit_form(alice.post(url, data=reapply_form(page)).get_data(as_text=True))
        ).status_code
        == 302
    )
    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    # Bob's phone stays: Alice re-applied only her own entry (the notes).
    assert (stored.notes, stored.phone) == ("Calls after six", "+33 6 22")


def test_a_product_conflict_compares_values_not_spellings(app):
    product = ProductFactory(unit_price=Decimal("10.00"), stock=5)
    url = f"/admin/product/edit/?id={product.id}"
    first, second = signed_in(app, "manager"), signed_in(app, "admin")
    first_form, second_form = open_form(first, url), open_form(second, url)
    first_form["name"] = "Steel kettle"
    assert first.post(url, data=first_form).status_code == 302

    second_form["unit_price"] = "12.5"
    del second_form["active"]  # the box unticked
    refused = second.post(url, data=second_form).get_data(as_text=True)
    assert comparison(refused) == {
        "Name": ("Product SKU-1", "Steel kettle", False),
        "Unit price": ("12.5", "10.00", True),
        "Active": ("No", "Yes", True),
    }
    filled = second.post(url, data=reapply_form(refused)).get_data(as_text=True)
    assert second.post(url, data=edit_form(filled)).status_code == 302
    db.session.expire_all()
    stored = db.session.get(Product, product.id)
    assert (stored.name, stored.unit_price, stored.active) == (
        "Steel kettle",
        Decimal("12.50"),
        False,
    )


def test_an_order_conflict_shows_and_re_applies_the_lines(app):
    widget = ProductFactory(sku="SKU-1", name="Widget", unit_price=Decimal("10.00"))
    gadget = ProductFactory(sku="SKU-2", name="Gadget", unit_price=Decimal("4.00"))
    order = OrderFactory(customer=CustomerFactory(), lines=[(widget, 2)])
    other = CustomerFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
    url = f"/admin/order/edit/?id={order.id}"
    first, second = signed_in(app, "clerk"), signed_in(app, "manager")
    first_form, second_form = open_form(first, url), open_form(second, url)

    PromotionFactory(code="SPRING")
    first_form["coupon_code"] = "SPRING"
    assert first.post(url, data=first_form).status_code == 302

    second_form["customer"] = str(other.id)
    second_form["lines-0-quantity"] = "3"
    second_form["lines-1-product"] = str(gadget.id)
    second_form["lines-1-quantity"] = "1"
    refused = second.post(url, data=second_form)
    assert refused.status_code == 200
    page = refused.get_data(as_text=True)
    rows = comparison(page)
    # Records by their labels, lines one by one, never ids.
    assert rows["Customer"] == (
        "Grace Hopper <grace@example.com>",
        "Ada Lovelace <ada@example.com>",
        True,
    )
    assert rows["Coupon code"] == ("(empty)", "SPRING", False)
    assert rows["Lines"] == (
        "Product: SKU-1 — Widget; Quantity: 3 Product: SKU-2 — Gadget; Quantity: 1",
        "Product: SKU-1 — Widget; Quantity: 2",
        True,
    )
    form = edit_form(page)
    assert form["version"] == str(db.session.get(Order, order.id).version)
    assert form["coupon_code"] == "SPRING"

    filled = second.post(url, data=reapply_form(page)).get_data(as_text=True)
    form = edit_form(filled)
    assert (form["coupon_code"], form["lines-0-quantity"], form["lines-1-quantity"]) == (
        "SPRING",
        "3",
        "1",
    )
    assert second.post(url, data=form).status_code == 302

    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert (stored.customer_id, stored.coupon_code) == (other.id, "SPRING")
    assert sorted((line.product.sku, line.quantity) for line in stored.lines) == [
        ("SKU-1", 3),
        ("SKU-2", 1),
    ]
    assert stored.total == Decimal("30.60")  # 3 × 10.00 + 4.00, less SPRING's 10 %


def test_a_deleted_line_stays_deleted_when_re_applied(app):
    widget = ProductFactory(sku="SKU-1", name="Widget", unit_price=Decimal("10.00"))
    gadget = ProductFactory(sku="SKU-2", name="Gadget", unit_price=Decimal("4.00"))
    order = OrderFactory(customer=CustomerFactory(), lines=[(widget, 2), (gadget, 1)])
    url = f"/admin/order/edit/?id={order.id}"
    first, second = signed_in(app, "clerk"), signed_in(app, "manager")
    first_form, second_form = open_form(first, url), open_form(second, url)
    PromotionFactory(code="SPRING")
    first_form["coupon_code"] = "SPRING"
    assert first.post(url, data=first_form).status_code == 302

    second_form["del-lines-1"] = "y"
    refused = second.post(url, data=second_form).get_data(as_text=True)
    assert comparison(refused)["Lines"][0] == "Product: SKU-1 — Widget; Quantity: 2"
    filled = second.post(url, data=reapply_form(refused)).get_data(as_text=True)
    form = edit_form(filled)
    assert form.get("del-lines-1") == "on"
    assert second.post(url, data=form).status_code == 302
    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert [line.product.sku for line in stored.lines] == ["SKU-1"]
    assert stored.coupon_code == "SPRING"


def test_a_staff_account_edit_is_checked_and_re_applied(app):
    target = StaffFactory(email="target@example.com", role="clerk")
    url = f"/admin/staff_user/edit/?id={target.id}"
    first, second = signed_in(app, "admin"), signed_in(app, "admin")
    # Read with the roles' select, which a browser posts back too.
    first_form = edit_form(first.get(url).get_data(as_text=True))
    second_form = edit_form(second.get(url).get_data(as_text=True))
    assert len(first_form["roles"]) == 1

    del first_form["active"]  # deactivate
    assert first.post(url, data=first_form).status_code == 302
    second_form["roles"] = str(
        db.session.query(User).filter_by(email=staff_email("admin")).one().roles[0].id
    )
    refused = second.post(url, data=second_form)
    assert refused.status_code == 200
    assert "Someone else changed this staff user" in flashes(refused)
    page = refused.get_data(as_text=True)
    assert comparison(page) == {
        "Roles": ("admin", "clerk", True),
        "Active": ("Yes", "No", False),
    }
    db.session.expire_all()
    assert [role.name for role in db.session.get(User, target.id).roles] == ["clerk"]

    filled = second.post(url, data=reapply_form(page)).get_data(as_text=True)
    assert second.post(url, data=edit_form(filled)).status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, target.id)
    assert ([role.name for role in stored.roles], stored.active) == (["admin"], False)


def test_use_my_entries_on_a_record_deleted_meanwhile_changes_nothing(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    alice, bob = signed_in(app, "clerk"), signed_in(app, "manager")
    alice_form, bob_form = open_form(alice, url), open_form(bob, url)
    bob_form["phone"] = "+33 6 11"
    assert bob.post(url, data=bob_form).status_code == 302
    alice_form["notes"] = "Calls after six"
    refused = alice.post(url, data=alice_form).get_data(as_text=True)

    db.session.delete(db.session.get(Customer, customer.id))
    db.session.commit()
    gone = alice.post(url, data=reapply_form(refused), follow_redirects=True)
    assert gone.status_code == 200
    assert "no longer exists" in flashes(gone) or "was deleted" in flashes(gone)


def test_a_forged_use_my_entries_post_is_harmless(app):
    customer = CustomerFactory(phone="+33 6 00")
    url = f"/admin/customer/edit/?id={customer.id}"
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, url)
    forged = {
        "csrf_token": form["csrf_token"],
        "_use_my_entries": "1",
        "_take_mine": ["phone", "nope", "version"],
        "phone": "+1",
        "version": "abc",
        "_opened_version": "99999999999999999999999",
    }
    answer = clerk.post(url, data=forged)
    assert answer.status_code == 200
    assert edit_form(answer.get_data(as_text=True))["phone"] == "+1"
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).phone == "+33 6 00"

    viewer = signed_in(app, "viewer")
    token = csrf_token_from(viewer.get("/admin/customer/").get_data(as_text=True))
    assert viewer.post(url, data=forged | {"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).phone == "+33 6 00"


def test_forged_lines_in_use_my_entries_get_no_500(app):
    order = OrderFactory(customer=CustomerFactory(), lines=[(ProductFactory(), 1)])
    url = f"/admin/order/edit/?id={order.id}"
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, url)
    for product, quantity in (("abc", "1"), ("99999999999999999999", "x"), ("", "-5")):
        forged = {
            "csrf_token": form["csrf_token"],
            "_use_my_entries": "1",
            "_take_mine": ["lines", "customer"],
            "customer": "nope",
            "lines-0-product": product,
            "lines-0-quantity": quantity,
            "version": form["version"],
        }
        answer = clerk.post(url, data=forged)
        assert answer.status_code == 200, (product, quantity)
    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert [line.quantity for line in stored.lines] == [1]
