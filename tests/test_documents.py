"""Invoices, credit notes and packing slips: what the PDFs say, read back with pypdf;
issued documents never change; the invoice reaches the customer's SMTP server attached.
"""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from console.database import db
from console.models import AuditEvent, CreditNote, ImmutableDocument, Invoice, Order
from console.models.base import utcnow
from console.notify.dispatcher import deliver_due
from console.services import documents, workflow
from console.services.documents import CreditLine
from console.services.errors import DomainError
from console.services.pdf import FONT_DIR, RefusedURL
from console.services.pdf_fetcher import LocalFilesOnly
from tests.documents_support import approved_orders, pdf_pages, pdf_text, taxed_order
from tests.factories import OrderFactory
from tests.fixtures.servers import mail_relay
from tests.pricing_support import D

pytestmark = pytest.mark.settings(
    SELLER_NAME="Kettles & Tea SRL",
    SELLER_ADDRESS="7 Rue Haute; 1000 Brussels; Belgium",
    SELLER_VAT_ID="BE0999888777",
    SELLER_EMAIL="billing@kettles.example",
)


def shipped_invoice(team, priced) -> tuple[Order, Invoice]:
    order = taxed_order(team, priced)
    workflow.ship(db.session, order.id, team["clerk"], "TRK-42")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    return order, documents.invoice_of(db.session, order.id)


def flat(text: str) -> str:
    """Text with runs of white space as one space (PDF text wraps and spaces freely)."""
    return re.sub(r"\s+", " ", text)


def test_invoice_pdf_shows_the_order_to_the_cent(team, priced):
    order, invoice = shipped_invoice(team, priced)
    text = flat(pdf_text(invoice.pdf))
    # The order as the pricing rules computed and stored it: 2 x 39.90 + 3 x 4.35 =
    # 92.85, 10 % off = 9.29, courier 12.00; tax per line after its discount share.
    assert (order.subtotal, order.discount_total, order.shipping_total) == (
        D("92.85"),
        D("9.29"),
        D("12.00"),
    )
    year = utcnow().year
    assert invoice.number == f"INV-{year}-000001"
    assert f"Invoice INV-{year}-000001" in text
    assert f"Order {order.number}" in text
    for part in (
        "Kettles & Tea SRL",
        "7 Rue Haute",
        "1000 Brussels",
        "VAT ID: BE0999888777",
        "billing@kettles.example",
        # Billing address, then shipping address.
        "Analytical Engines Ltd",
        "1 Korenmarkt",
        "9000 Ghent",
        "12 Rue de la République",
        "69002 Lyon",
        "France",
        "TRK-42",
    ):
        assert part in text, part
    for line in order.lines:
        assert f"{line.sku} {line.name} {line.quantity} {line.unit_price:,.2f} EUR" in text
        assert f"{line.line_total:,.2f} EUR" in text
    assert f"Subtotal {order.subtotal:,.2f} EUR" in text
    assert f"Discount (TEN) -{order.discount_total:,.2f} EUR" in text
    assert f"Shipping (Courier) {order.shipping_total:,.2f} EUR" in text
    assert len(order.tax_lines) >= 2
    for tax in order.tax_lines:
        assert (
            f"Tax {tax.name} {tax.rate:.2f} % on {tax.base:,.2f} EUR {tax.tax:,.2f} EUR" in text
        ), tax.name
    assert f"Total {order.total:,.2f} EUR" in text
    assert invoice.total == order.total
    assert invoice.content["total"] == f"{order.total:.2f}"


def test_an_issued_invoice_never_changes(team, priced):
    _order, invoice = shipped_invoice(team, priced)
    invoice_id, pdf = invoice.id, invoice.pdf

    # Through the ORM: refused before any SQL is sent.
    invoice.total = Decimal("0.01")
    with pytest.raises(ImmutableDocument, match="never changes"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(Invoice, invoice_id))
    with pytest.raises(ImmutableDocument):
        db.session.commit()
    db.session.rollback()

    # Around the ORM, in SQL: the database's triggers refuse it.
    with pytest.raises(DBAPIError, match="never change"):
        db.session.execute(update(Invoice).values(total=Decimal("0.01")))
    db.session.rollback()
    with pytest.raises(DBAPIError, match="never change"):
        db.session.execute(delete(Invoice))
    db.session.rollback()

    db.session.expire_all()
    kept = db.session.get(Invoice, invoice_id)
    assert kept.pdf == pdf and kept.total != Decimal("0.01")


def test_issuing_is_audited_with_the_person_who_shipped(team, priced):
    _order, invoice = shipped_invoice(team, priced)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "invoice")).one()
    assert (event.action, event.record_id, event.actor_email) == (
        "create",
        invoice.id,
        "clerk@staff.test",
    )
    assert event.changes["number"][1] == invoice.number


def test_shipping_again_is_refused_and_issues_no_second_invoice(team, priced):
    order, invoice = shipped_invoice(team, priced)
    with pytest.raises(DomainError):
        workflow.ship(db.session, order.id, team["clerk"], "TRK-43")
    assert documents.issue_invoice(db.session, order, team["clerk"]).id == invoice.id
    assert db.session.scalars(select(Invoice.number)).all() == [invoice.number]


def test_credit_note_is_numbered_in_its_own_series_and_shows_what_is_credited(team, priced):
    order, invoice = shipped_invoice(team, priced)
    kettle = next(line for line in order.lines if line.sku == "KET-1")
    note = documents.issue_credit_note(
        db.session,
        order,
        team["manager"],
        [CreditLine(kettle.id, 1, D("35.91"))],
        shipping="12.00",
        reason="One kettle came back dented.",
    )
    db.session.commit()
    year = utcnow().year
    assert note.number == f"CN-{year}-000001"
    assert note.invoice_id == invoice.id
    # 35.91 at 20 % (added) = 7.18 tax; shipping 12.00 at the priced's shipping rate (0 %).
    assert note.total == D("35.91") + D("7.18") + D("12.00")
    text = flat(pdf_text(note.pdf))
    assert f"Credit note CN-{year}-000001" in text
    assert f"Corrects invoice {invoice.number}" in text
    assert "One kettle came back dented." in text
    assert "KET-1 Kettle 1 20.00 % 35.91 EUR" in text
    assert "Tax Standard 20.00 % on 35.91 EUR 7.18 EUR" in text
    assert "Shipping 12.00 EUR" in text
    assert "Total credited 55.09 EUR" in text

    # A second one takes the next number; it never changes either.
    second = documents.issue_credit_note(
        db.session, order, team["manager"], [], shipping="1.00", reason="Goodwill."
    )
    db.session.commit()
    assert second.number == f"CN-{year}-000002"
    with pytest.raises(DBAPIError):
        db.session.execute(update(CreditNote).values(reason="changed"))
    db.session.rollback()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": 3}, "between 1 and the 2 ordered"),
        ({"quantity": 0}, "between 1 and the 2 ordered"),
        ({"amount": D("79.81")}, "more than the line's total"),
        ({"amount": D("-1")}, "cannot be negative"),
        ({"amount": "1.005"}, "more than two decimals"),
        ({"amount": "NaN"}, "an amount such as"),
        ({"order_line_id": 10**6}, "has no line"),
    ],
)
def test_credit_note_refuses_bad_lines_and_writes_nothing(team, priced, change, message):
    order, _invoice = shipped_invoice(team, priced)
    kettle = next(line for line in order.lines if line.sku == "KET-1")
    values = {"order_line_id": kettle.id, "quantity": 1, "amount": D("10.00"), **change}
    with pytest.raises(DomainError, match=message):
        documents.issue_credit_note(
            db.session, order, team["manager"], [CreditLine(**values)], reason="Return"
        )
    db.session.rollback()
    assert db.session.scalars(select(CreditNote)).all() == []


def test_credit_note_needs_orders_approve_a_reason_and_at_most_the_shipping_paid(team, priced):
    order, _invoice = shipped_invoice(team, priced)
    with pytest.raises(DomainError, match="orders.approve"):
        documents.issue_credit_note(
            db.session, order, team["clerk"], [], shipping="1.00", reason="x"
        )
    with pytest.raises(DomainError, match="reason"):
        documents.issue_credit_note(
            db.session, order, team["manager"], [], shipping="1.00", reason="  "
        )
    with pytest.raises(DomainError, match="more than the €12.00"):
        documents.issue_credit_note(
            db.session, order, team["manager"], [], shipping="12.01", reason="x"
        )
    with pytest.raises(DomainError, match="at least one line"):
        documents.issue_credit_note(db.session, order, team["manager"], [], reason="x")
    for unknown in (10**6, 10**30, "x"):
        with pytest.raises(DomainError, match="does not exist"):
            documents.issue_credit_note(
                db.session, unknown, team["manager"], [], shipping="1.00", reason="x"
            )
    db.session.rollback()
    assert db.session.scalars(select(CreditNote)).all() == []


def test_packing_slips_one_page_per_order_with_quantities_and_no_prices(team, priced):
    first = taxed_order(team, priced)
    (second,) = approved_orders(team, priced, 1)
    pages = pdf_pages(documents.packing_slips(db.session, [first.id, second]))
    assert len(pages) == 2
    one, two = (flat(page) for page in pages)
    assert f"Packing slip {first.number}" in one
    assert "KET-1 Kettle 2" in one and "TEA-1 Green tea 3" in one
    assert "1 Korenmarkt" in one and "12 Rue de la République" in one
    second_number = db.session.get(Order, second).number
    assert f"Packing slip {second_number}" in two and "KET-1 Kettle 1" in two
    for page in (one, two):
        assert "EUR" not in page
        assert "39.90" not in page and "4.35" not in page
        assert not re.search(r"\d+\.\d\d", page), page


def test_documents_fetch_only_the_consoles_own_files():
    fetcher = LocalFilesOnly()
    font = (FONT_DIR / "DejaVuSans.ttf").as_uri()
    assert fetcher.allows(font)
    for url in (
        "http://127.0.0.1/logo.png",
        "https://fonts.example/font.woff2",
        "data:text/plain,x",
        "file:///etc/passwd",
        font.replace("DejaVuSans.ttf", "../../../../../etc/passwd"),
        "file://other-host/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ):
        assert not fetcher.allows(url), url
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)


SERVE_A_PAGE = """
import sys
from console import create_app
app = create_app({"CONSOLE_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
page = app.test_client().get("/login", base_url=app.config["CONSOLE_BASE_URL"])
assert page.status_code == 200, page.status_code
print("weasyprint" in sys.modules)
"""


def test_a_worker_serving_pages_does_not_load_weasyprint():
    """WeasyPrint weighs some 25 MB per process: only a process that renders loads it."""
    result = subprocess.run(
        [sys.executable, "-c", SERVE_A_PAGE],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"


@pytest.mark.settings(**mail_relay(), OUTBOX_RETRY_BASE_SECONDS=0)
def test_the_shipped_email_carries_the_invoice_pdf_to_the_smtp_server(team, priced, smtp_server):
    order, invoice = shipped_invoice(team, priced)
    deliver_due()
    shipped = [m for m in smtp_server.received if "on its way" in m["Subject"]]
    assert len(shipped) == 1
    (attachment,) = list(shipped[0].iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    assert attachment.get_content() == invoice.pdf
    assert (
        f"Your invoice {invoice.number} is attached"
        in shipped[0].get_body(preferencelist=("plain",)).get_content()
    )
    # The other e-mails of the order carry nothing.
    others = [m for m in smtp_server.received if m is not shipped[0]]
    assert others and all(not list(m.iter_attachments()) for m in others)
    assert order.number in shipped[0]["Subject"]


@pytest.mark.settings(**mail_relay(), OUTBOX_RETRY_BASE_SECONDS=0)
def test_a_shipped_email_retried_after_an_outage_still_carries_the_invoice(
    team, priced, smtp_server
):
    _order, invoice = shipped_invoice(team, priced)
    smtp_server.stop()
    report = deliver_due()
    assert report.retried and not report.sent
    smtp_server.start()
    deliver_due()
    shipped = [m for m in smtp_server.received if "on its way" in m["Subject"]]
    (attachment,) = list(shipped[0].iter_attachments())
    assert attachment.get_content() == invoice.pdf


def test_an_order_never_approved_has_nothing_to_credit(team, priced):
    pending = OrderFactory(customer=priced["ada"], lines={priced["tea"]: 1}, actor=team["clerk"])
    with pytest.raises(DomainError, match="never approved"):
        documents.issue_credit_note(
            db.session, pending.id, team["manager"], [], shipping="0.01", reason="x"
        )
    assert documents.documents_of(db.session, pending) == []
