"""A list's rows, written by ``SecuredModelView.list_rows_html`` with their buttons rendered
once per page and given each row's id: each row's buttons and cells are its own, values
are escaped, and each row's delete form deletes that row and no other."""

from __future__ import annotations

from flask import g

from console.models import Customer
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.helpers import count_rows, hidden_inputs, parse, text_of


def data_rows(html: str):
    return [row for row in parse(html).select("table.model-list tr") if row.find("td")]


def test_each_row_has_its_own_buttons_and_delete_form(app, client, auth):
    auth.login_as("admin")
    customers = [
        CustomerFactory(email=f"row{n}@example.com", last_name=f"Row{n}") for n in range(3)
    ]
    page = client.get("/admin/customer/?page_size=50").get_data(as_text=True)

    rows = data_rows(page)
    assert len(rows) == 3
    ids = set()
    for row in rows:
        row_id = row.select_one("input.action-checkbox")["value"]
        ids.add(row_id)
        links = [a["href"] for a in row.select("td.list-buttons-column a")]
        assert sorted(link.split("?")[0] for link in links) == [
            "/admin/customer/details/",
            "/admin/customer/edit/",
        ]
        assert all(f"?id={row_id}&url=/admin/customer/" in link for link in links)
        form = row.select_one("td.list-buttons-column form")
        assert form["action"] == "/admin/customer/delete/"
        fields = hidden_inputs(str(form))
        assert fields["id"] == row_id
        assert fields["url"] == "/admin/customer/?page_size=50"
        assert fields["csrf_token"]
        email = text_of(row.select_one("td.col-email"))
        assert email == next(c.email for c in customers if str(c.id) == row_id)
    assert ids == {str(c.id) for c in customers}

    target = customers[1]
    row = next(r for r in rows if r.select_one("input.action-checkbox")["value"] == str(target.id))
    fields = hidden_inputs(str(row.select_one("td.list-buttons-column form")))
    answer = client.post("/admin/customer/delete/", data=fields)
    assert answer.status_code == 302
    assert count_rows(Customer) == 2
    assert {c.email for c in Customer.query.all()} == {"row0@example.com", "row2@example.com"}


def test_cells_are_escaped_and_markup_kept(client, auth):
    auth.login_as("admin")
    product = ProductFactory(sku="ESC-1", name='<i>Lamp</i> & "shade"', unit_price="1234.50")
    page = client.get("/admin/product/").get_data(as_text=True)

    assert '<td class="col-name">&lt;i&gt;Lamp&lt;/i&gt; &amp; &#34;shade&#34;</td>' in page
    assert "<i>Lamp</i>" not in page
    (row,) = data_rows(page)
    assert text_of(row.select_one("td.col-name")) == '<i>Lamp</i> & "shade"'
    assert text_of(row.select_one("td.col-unit_price")) == "€1,234.50"

    OrderFactory(
        customer=CustomerFactory(first_name="<b>Bo</b>", email="bo@example.com"),
        lines={product: 1},
    )
    (row,) = data_rows(client.get("/admin/order/").get_data(as_text=True))
    # A formatter's Markup stays markup (the status badge, the customer's link), and
    # what it holds is escaped.
    assert text_of(row.select_one("td.col-status span.badge.status-pending")) == "Pending"
    link = row.select_one("td.col-customer a")
    assert link.find("b") is None
    assert text_of(link) == "<b>Bo</b> Lovelace <bo@example.com>"


def test_row_buttons_are_rendered_once_per_page(app, client, auth):
    seen = {}

    @app.after_request
    def keep(response):
        seen.update(g.get("console_row_actions", {}))
        return response

    auth.login_as("admin")
    for n in range(4):
        CustomerFactory(email=f"once{n}@example.com")
    seen.clear()
    page = client.get("/admin/customer/").get_data(as_text=True)

    assert len(data_rows(page)) == 4
    (buttons,) = [kept for kept in seen.values() if "rowid0f5e3c" in kept]
    assert "/admin/customer/edit/?id=rowid0f5e3c" in buttons
    assert "rowid0f5e3c" not in page
