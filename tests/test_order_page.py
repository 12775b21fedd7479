"""The order page tells the whole story: its header, its timeline and internal notes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from console.database import db
from console.models import (
    AuditEvent,
    CustomerAddress,
    Order,
    OrderNote,
    OrderStatus,
    OutboxMessage,
)
from console.services import workflow
from console.services.notifications import DELIVERY_STATES
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.helpers import count_rows, export, form_token, parse, submit, text_of

CSS = Path(__file__).resolve().parent.parent / "console" / "static" / "console.css"


@pytest.fixture
def shop(app):
    people = {
        "clerk": StaffFactory(email="clerk@staff.test", role="clerk"),
        "manager": StaffFactory(email="manager@staff.test", role="manager"),
        "boss": StaffFactory(email="boss@staff.test", role="manager"),
        "viewer": StaffFactory(email="viewer@staff.test", role="viewer"),
    }
    customer = CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    db.session.add(
        CustomerAddress(
            customer=customer,
            name="Ada Lovelace",
            line1="1 Loop Lane",
            postal_code="N1 7AA",
            city="London",
            country="GB",
            is_default_billing=True,
            is_default_shipping=True,
        )
    )
    pump = ProductFactory(sku="PUMP-1", unit_price=Decimal("15.00"), stock=50)
    return {**people, "customer": customer, "pump": pump}


def order_page(client, order: Order, page: str = "details"):
    response = client.get(f"/admin/order/{page}/?id={order.id}")
    assert response.status_code == 200, response.status_code
    return parse(response.get_data(as_text=True))


def buttons(soup) -> dict[str, bool]:
    """The header's workflow buttons: name -> enabled."""
    header = soup.find(id="order-header")
    return {
        form["id"].removeprefix("transition-"): not form.find("button").has_attr("disabled")
        for form in header.select('form[id^="transition-"]')
    }


# --- the header ---------------------------------------------------------------------


@pytest.mark.parametrize("page", ["details", "edit"])
def test_header_shows_number_status_customer_and_total(client, auth, shop, page):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 2}, actor=shop["clerk"])
    auth.login("manager@staff.test")
    soup = order_page(client, order, page)
    header = soup.find(id="order-header")
    assert header is not None
    assert text_of(header.find(id="order-number")) == order.number
    badge = header.select_one("#order-status .status-badge")
    assert "status-pending" in badge["class"] and text_of(badge) == "Pending"
    customer = header.find(id="order-customer")
    assert customer.find("a")["href"].endswith(f"/admin/customer/details/?id={shop['customer'].id}")
    assert "Ada Lovelace" in text_of(customer) and "ada@example.com" in text_of(customer)
    assert text_of(header.find(id="order-total")) == "€30.00"
    taken = text_of(header.find(id="order-taken"))
    assert "clerk@staff.test" in taken and order.created_at.strftime("%Y-%m-%d %H:%M") in taken
    assert order.placed_at.strftime("%Y-%m-%d %H:%M") in text_of(header.find(id="order-placed"))
    # The addresses and the totals kept with the order.
    addresses = header.find(id="order-addresses")
    assert "1 Loop Lane" in text_of(addresses.find(id="order-billing-address"))
    assert "1 Loop Lane" in text_of(addresses.find(id="order-shipping-address"))
    assert header.find(id="order-totals") is not None


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("viewer@staff.test", {}),
        ("clerk@staff.test", {}),
        ("boss@staff.test", {"approve": True, "reject": True, "cancel": True}),
        # The manager took the order: four-eyes keeps Approve, greyed, with its reason.
        ("manager@staff.test", {"approve": False, "reject": True, "cancel": True}),
    ],
)
def test_header_offers_only_the_actions_the_person_may_take(client, auth, shop, who, expected):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["manager"])
    auth.login(who)
    soup = order_page(client, order)
    assert buttons(soup) == expected
    if who == "manager@staff.test":
        approve = soup.select_one("#transition-approve button")
        reason = text_of(soup.find(id=approve["aria-describedby"]))
        assert "four-eyes" in reason and "taken by you" in reason


def test_edit_page_header_has_the_same_actions(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["manager"])
    auth.login("manager@staff.test")
    assert buttons(order_page(client, order, "edit")) == {
        "approve": False,
        "reject": True,
        "cancel": True,
    }


def test_clerk_ships_an_approved_order_from_its_header(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    workflow.approve(db.session, order, shop["boss"])
    auth.login("clerk@staff.test")
    soup = order_page(client, order)
    assert buttons(soup) == {"ship": True}
    assert "status-approved" in soup.select_one("#order-status .status-badge")["class"]


def test_order_list_shows_status_badges(client, auth, shop):
    pending = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    rejected = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    workflow.reject(db.session, rejected, shop["boss"], "Out of range")
    auth.login("viewer@staff.test")
    soup = parse(client.get("/admin/order/").get_data(as_text=True))
    badges = {text_of(badge) for badge in soup.select("td .status-badge")}
    assert badges == {"Pending", "Rejected"}
    assert soup.select_one("td .status-badge.status-rejected") is not None
    assert pending.number in text_of(soup)


def _colour(css: str, selector: str, prop: str) -> str:
    """The value of ``prop`` in the rule for ``selector`` of console.css."""
    for selectors, body in re.findall(
        r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    ):
        if selector in [s.strip() for s in selectors.split(",")]:
            found = re.search(rf"(?:^|;|\s){prop}\s*:\s*#([0-9a-fA-F]{{3,6}})\b", body)
            if found:
                digits = found.group(1)
                return "#" + ("".join(d * 2 for d in digits) if len(digits) == 3 else digits)
    raise AssertionError(f"console.css sets no {prop} for {selector}")


def _contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(
    "selector",
    [f".status-badge.status-{s.value}" for s in OrderStatus]
    + [f".delivery-badge.delivery-{state}" for state in DELIVERY_STATES],
)
def test_every_badge_colour_meets_wcag_aa(selector):
    css = CSS.read_text()
    text = _colour(css, ".status-badge" if "status" in selector else ".delivery-badge", "color")
    background = _colour(css, selector, "background-color")
    assert _contrast(text, background) >= 4.5, (selector, text, background)


# --- the timeline -------------------------------------------------------------------


def timeline(client, order: Order, page: str = "details") -> list[dict]:
    section = order_page(client, order, page).find(id="order-timeline")
    assert section is not None
    entries = []
    for item in section.select("li.timeline-entry"):
        kind = next(c.removeprefix("timeline-") for c in item["class"] if c != "timeline-entry")
        badge = item.select_one(".delivery-badge")
        body = item.select_one(".timeline-note-body")
        entries.append(
            {
                "kind": kind,
                "at": item.find("time")["datetime"],
                "actor": text_of(item.select_one(".timeline-actor")),
                "what": text_of(item.select_one(".timeline-what")),
                "details": [text_of(li) for li in item.select(".timeline-changes li")],
                "state": text_of(badge) if badge else None,
                "delivery": text_of(item.select_one(".timeline-delivery")) if badge else None,
                "body": body.get_text() if body else None,
            }
        )
    return entries


def add_note(client, order: Order, body: str, view: str = "order", **kwargs):
    token = form_token(client, f"/admin/{view}/details/?id={order.id}")
    return client.post(
        f"/admin/{view}/{order.id}/note/?id={order.id}",
        data={"csrf_token": token, "body": body},
        **kwargs,
    )


def test_timeline_tells_the_story_in_time_order(client, auth, shop, clock):
    auth.login("clerk@staff.test")
    form = {
        "customer": str(shop["customer"].id),
        "coupon_code": "",
        "lines-0-product": str(shop["pump"].id),
        "lines-0-quantity": "2",
    }
    assert submit(client, "/admin/order/new/", form).status_code == 302
    order = db.session.scalar(select(Order))
    clock.shift(60)
    edited = submit(
        client,
        f"/admin/order/edit/?id={order.id}",
        {
            **form,
            "lines-0-id": str(order.lines[0].id),
            "lines-0-quantity": "3",
        },
    )
    assert edited.status_code == 302
    clock.shift(60)
    add_note(client, order, "Customer asked for delivery after 5pm.\nRing twice.")
    auth.logout()
    clock.shift(60)
    auth.login("boss@staff.test")
    db.session.expire_all()
    token = form_token(client, f"/admin/order/details/?id={order.id}")
    approved = client.post(
        f"/admin/order/{order.id}/do/approve/",
        data={"csrf_token": token, "version": db.session.get(Order, order.id).version},
    )
    assert approved.status_code == 302
    # Delivery happened meanwhile: the first mail went out, the last is retried.
    received, updated, approval = db.session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.id)
    )
    received.status, received.attempts, received.sent_at = "sent", 1, received.created_at
    approval.attempts, approval.last_error = 1, "421 try later"
    db.session.commit()

    story = timeline(client, order)
    assert [(e["kind"], e["actor"], e["what"]) for e in story] == [
        ("change", "clerk@staff.test", "took the order; added line 2 × PUMP-1"),
        ("email", "ada@example.com", f"“Our shop: we received your order {order.number}”"),
        ("change", "clerk@staff.test", "changed total; changed line 3 × PUMP-1"),
        ("email", "ada@example.com", f"“Our shop: your order {order.number} was updated”"),
        ("note", "clerk@staff.test", "added an internal note"),
        ("transition", "boss@staff.test", "approved"),
        ("email", "ada@example.com", f"“Our shop: your order {order.number} is confirmed”"),
    ]
    assert [e["at"] for e in story] == sorted(e["at"] for e in story)
    edit, note, approval_entry = story[2], story[4], story[5]
    assert edit["details"] == [
        "total: €30.00 → €45.00",
        "subtotal: €30.00 → €45.00",
        "quantity: 2 → 3",
    ]
    assert note["body"] == "Customer asked for delivery after 5pm.\nRing twice."
    assert approval_entry["details"] == ["Stock reserved: PUMP-1 × 3"]
    assert (story[1]["state"], story[1]["delivery"]) == (
        "Sent",
        f"sent {received.created_at:%Y-%m-%d %H:%M}",
    )
    assert story[3]["state"] == "Queued"
    assert story[6]["state"] == "Retrying"
    assert story[6]["delivery"].startswith("attempt 1 failed; next attempt")
    # The edit page tells the same story.
    assert timeline(client, order, "edit") == story


def test_each_delivery_state_and_a_rejection_reason(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    workflow.reject(db.session, order, shop["boss"], "We no longer ship to the moon.")
    received, rejection = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    received.status, received.attempts = "failed", 8
    db.session.commit()
    auth.login("viewer@staff.test")
    story = timeline(client, order)
    assert [(e["kind"], e["state"]) for e in story] == [
        ("change", None),
        ("email", "Failed"),
        ("transition", None),
        ("email", "Queued"),
    ]
    assert story[1]["delivery"] == "gave up after 8 attempts; it can be resent"
    assert story[2]["details"] == ["Reason: We no longer ship to the moon."]
    assert rejection.status == "pending"
    # Those who may read the outbox get a link to the message; a viewer does not.
    section = order_page(client, order).find(id="order-timeline")
    assert section.select("a[href*='/admin/notification/details/']") == []
    auth.logout()
    auth.login("boss@staff.test")
    section = order_page(client, order).find(id="order-timeline")
    links = section.select("a[href*='/admin/notification/details/']")
    assert len(links) == 2


def test_an_email_follows_the_change_that_queued_it(client, auth, shop):
    """On the real clock, an e-mail is queued a moment before its change is recorded
    (at commit): the timeline still shows it after that change."""
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    workflow.cancel(db.session, order, shop["boss"])
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "order")).all()
    assert mails[0].created_at <= min(e.at for e in events)
    auth.login("viewer@staff.test")
    story = timeline(client, order)
    assert [e["at"] for e in story] == sorted(e["at"] for e in story)
    assert [(e["kind"], e["what"][:15]) for e in story] == [
        ("change", "took the order;"),
        ("email", "“Our shop: we r"),
        ("transition", "cancelled"),
        ("email", "“Our shop: your"),
    ]


def test_a_draft_placed_later_reads_as_placed(client, auth, shop):
    auth.login("clerk@staff.test")
    form = {
        "customer": str(shop["customer"].id),
        "coupon_code": "",
        "lines-0-product": str(shop["pump"].id),
        "lines-0-quantity": "1",
    }
    draft = submit(client, "/admin/order/new/", {**form, "_continue_editing": "1"})
    assert draft.status_code == 302
    order = db.session.scalar(select(Order))
    assert order.placed_at is None
    placed = submit(
        client,
        f"/admin/order/edit/?id={order.id}",
        {**form, "lines-0-id": str(order.lines[0].id)},
    )
    assert placed.status_code == 302
    story = timeline(client, order)
    assert [(e["kind"], e["what"]) for e in story][-2:] == [
        ("change", "placed the order"),
        ("email", f"“Our shop: we received your order {order.number}”"),
    ]


# --- internal notes -----------------------------------------------------------------


def test_clerk_adds_a_note_on_any_status_without_changing_the_order(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    workflow.cancel(db.session, order, shop["boss"])
    version = db.session.get(Order, order.id).version
    auth.login("clerk@staff.test")
    response = add_note(client, order, "  Called the customer: cancellation confirmed.  ")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.fragment) == ("/admin/order/details/", "order-timeline")
    assert parse_qs(location.query)["id"] == [str(order.id)]
    db.session.expire_all()
    note = db.session.scalar(select(OrderNote))
    assert (note.order_id, note.author.email, note.body) == (
        order.id,
        "clerk@staff.test",
        "Called the customer: cancellation confirmed.",
    )
    assert db.session.get(Order, order.id).version == version
    # Audited: who added a note to which order, not its text.
    event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.record_type == "order_note"))
    assert (event_.action, event_.actor_email, event_.record_id) == (
        "create",
        "clerk@staff.test",
        note.id,
    )
    assert event_.changes["order"][1].startswith(order.number)
    assert "cancellation" not in str(event_.changes) + str(event_.note) + event_.record_label


def test_viewer_may_not_add_a_note(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("viewer@staff.test")
    assert order_page(client, order).find(id="order-note-form") is None
    response = add_note(client, order, "Sneaky")
    assert response.status_code == 403
    assert count_rows(OrderNote) == 0


def test_anonymous_note_goes_to_sign_in(client, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    token = form_token(client, "/login")
    response = client.post(
        f"/admin/order/{order.id}/note/", data={"csrf_token": token, "body": "Hello"}
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count_rows(OrderNote) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write the note before adding it."),
        (" \r\n\t ", "Write the note before adding it."),
        ("x" * 2001, "A note holds at most 2000 characters"),
    ],
)
def test_a_blank_or_too_long_note_gets_a_message_on_the_field(client, auth, shop, body, message):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("clerk@staff.test")
    response = add_note(client, order, body)
    assert response.status_code == 200
    soup = parse(response.get_data(as_text=True))
    field = soup.find(id="order-note-body")
    assert "is-invalid" in field["class"]
    assert message in text_of(soup.find(id="order-note-error"))
    assert "order-note-error" in field["aria-describedby"]
    # The page is the order's page, its links intact; the text typed is kept.
    assert soup.find(id="order-header") is not None
    assert soup.select_one("a.history-link") is None  # clerks do not read the trail
    assert field.get_text() == body.strip()
    assert count_rows(OrderNote) == 0


def test_a_note_of_exactly_the_limit_is_kept_whole(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("clerk@staff.test")
    text = "line\r\n" + "y" * 1995  # a browser sends CR LF; stored as one character
    assert add_note(client, order, text).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(OrderNote.body)) == "line\n" + "y" * 1995


def test_notes_on_the_approval_queue_need_orders_write_too(client, auth, shop):
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("boss@staff.test")
    response = add_note(client, order, "Checked the stock by hand.", view="pending")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/pending/details/")
    assert count_rows(OrderNote) == 1


def test_note_text_never_reaches_the_customer_or_an_export(client, auth, shop):
    secret = "Customer is difficult; do not offer discounts"
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("clerk@staff.test")
    assert add_note(client, order, secret).status_code == 302
    auth.logout()
    workflow.approve(db.session, order, shop["boss"])
    workflow.ship(db.session, order, shop["boss"], "TRACK-1")
    db.session.expire_all()
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert [m.template for m in messages] == ["order_received", "order_approved", "order_shipped"]
    for message in messages:
        stored = " ".join(
            str(value or "")
            for value in (message.subject, message.body_text, message.body_html, message.template)
        )
        assert "difficult" not in stored
    auth.login("boss@staff.test")
    for url in ("/admin/order/export/csv/", "/admin/audit/export/csv/"):
        exported = export(client, url)
        assert exported.status_code == 200, url
        cells = [
            cell for row in csv.reader(io.StringIO(exported.get_data(as_text=True))) for cell in row
        ]
        assert cells and not any("difficult" in cell for cell in cells), url
    # ... while staff read it on the order's page.
    story = timeline(client, order)
    assert [e["body"] for e in story if e["kind"] == "note"] == [secret]


def test_notes_of_a_long_story_load_in_a_fixed_number_of_queries(client, auth, shop, app):
    """Each note names its author without a query per note."""
    from sqlalchemy import event

    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("clerk@staff.test")

    def count_queries(notes: int) -> int:
        db.session.add_all(
            OrderNote(order=order, author=shop["clerk"], body=f"note {n}") for n in range(notes)
        )
        db.session.commit()
        statements: list[str] = []

        def record(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert client.get(f"/admin/order/details/?id={order.id}").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return len(statements)

    assert count_queries(1) == count_queries(20)


def test_timeline_times_are_utc_minutes(client, auth, shop, clock):
    clock.move_to(dt.datetime(2026, 3, 1, 9, 30, 15, tzinfo=dt.UTC))
    order = OrderFactory(customer=shop["customer"], lines={shop["pump"]: 1}, actor=shop["clerk"])
    auth.login("viewer@staff.test")
    section = order_page(client, order).find(id="order-timeline")
    assert {text_of(t) for t in section.find_all("time")} == {"2026-03-01 09:30"}
