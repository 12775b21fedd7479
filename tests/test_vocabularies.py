"""Stored words shown in the reader's language: order statuses, return and job states,
audit actions and stock movement reasons read translated on every page that shows
them (list columns, badges, filter options, the order's timeline, the dashboard),
while the stored values, searches and exports keep the English word."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from console import audit
from console.database import db
from console.models import AuditEvent, ImportBatch, Job, Order, OutboxMessage, Return, StockMovement
from console.models.imports import ImportState
from console.models.jobs import JobState
from console.models.orders import OrderStatus
from console.models.outbox import DeliveryState, OutboxStatus
from console.models.returns import ReturnLine, ReturnOutcome, ReturnState
from console.models.stock import StockReason
from console.models.webhooks import DeliveryStatus
from console.services import workflow
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.helpers import csrf_token_from, parse, text_of

VOCABULARIES = [
    OrderStatus,
    ReturnState,
    ReturnOutcome,
    JobState,
    StockReason,
    ImportState,
    OutboxStatus,
    DeliveryState,
    DeliveryStatus,
]


def filter_options(html: str, column: str) -> dict[str, str]:
    """``{stored value: label}`` of the list's filter on ``column`` (Flask-Admin writes
    its filters as JSON for its script)."""
    groups = json.loads(text_of(parse(html).find(id="filter-groups-data")))
    return {
        value: label
        for group, filters in groups.items()
        if group == column
        for flt in filters
        for value, label in flt["options"] or ()
    }


@pytest.fixture
def approved(client, auth):
    """A German manager, and an order of theirs taken by the system and approved by
    them (an audit event, a stock reservation, a return requested of it and a job)."""
    manager = auth.login_as("manager")
    manager.language = "de"
    db.session.commit()
    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("10.00"), stock=5)
    customer = CustomerFactory()
    taken_by_system = OrderFactory(customer=customer, lines={lamp: 1})
    pending = OrderFactory(customer=customer, lines={lamp: 2}, actor=manager)
    approved = workflow.approve(db.session, taken_by_system, manager)
    db.session.add(Return(order_id=approved.id, reason="Broken", requested_by_id=manager.id))
    db.session.add(Job(kind="export", title="Orders export (CSV)", owner_id=manager.id))
    db.session.commit()
    return manager, approved, pending


def test_order_statuses_read_in_german_in_the_list_its_filter_and_the_order_page(client, approved):
    _manager, approved_order, pending = approved
    listing = client.get("/admin/order/").get_data(as_text=True)
    badges = {text_of(b) for b in parse(listing).select("td.col-status .status-badge")}
    assert badges == {"Genehmigt", "Offen"}
    options = filter_options(listing, "Status")
    assert options["pending"] == "Offen" and options["cancelled"] == "Storniert"
    page = parse(client.get(f"/admin/order/details/?id={approved_order.id}").get_data(True))
    assert text_of(page.find(id="order-status")) == "Genehmigt"
    # The dashboard's "orders you took" names each status the same way.
    home = parse(client.get("/admin/").get_data(as_text=True))
    assert "Offen" in text_of(home.find(id="widget-my-orders"))
    # Stored as it was: the English word the exports and the API read.
    db.session.expire_all()
    assert db.session.scalar(select(Order.status).where(Order.id == pending.id)) == "pending"


def test_the_order_timeline_tells_what_was_done_in_german(client, approved):
    _manager, approved_order, _pending = approved
    page = parse(client.get(f"/admin/order/details/?id={approved_order.id}").get_data(True))
    told = [text_of(what) for what in page.select("#order-timeline .timeline-what")]
    assert "hat die Bestellung aufgenommen" in told[0]
    assert "hat genehmigt" in told


def test_return_states_read_in_german_in_the_list_and_its_filter(client, approved):
    listing = client.get("/admin/returns/").get_data(as_text=True)
    assert [text_of(td) for td in parse(listing).select("td.col-state")] == ["Angekündigt"]
    assert filter_options(listing, "State") == {
        "requested": "Angekündigt",
        "received": "Eingegangen",
        "refunded": "Erstattet",
    }
    # The headings are German too, and claim no UTC: the times read in the person's zone.
    heading = text_of(parse(listing).select_one("th.col-requested_at"))
    assert heading == "Angekündigt am"
    assert db.session.scalar(select(Return.state)) == "requested"


def test_a_return_reads_in_german_from_its_form_to_the_order_timeline(client, approved):
    _manager, order, _pending = approved
    requested = db.session.scalar(select(Return))
    line = ReturnLine(return_id=requested.id, order_line_id=order.lines[0].id, quantity=1)
    db.session.add(line)
    db.session.commit()
    details = f"/admin/returns/details/?id={requested.id}"
    page = parse(client.get(details).get_data(as_text=True))
    form = page.find(id="return-receive-form")
    assert [text_of(label) for label in form.select("label.form-check-label")] == [
        "Zurück ins Lager",
        "Abgeschrieben",
    ]

    received = client.post(
        f"/admin/returns/{requested.id}/receive/",
        data={"csrf_token": csrf_token_from(str(page)), f"outcome-{line.id}": "restock"},
        follow_redirects=True,
    )
    told = text_of(parse(received.get_data(as_text=True)).select_one(".alert-success"))
    assert f"Rücksendung {requested.id} eingegangen" in told

    timeline = parse(client.get(f"/admin/order/details/?id={order.id}").get_data(True))
    steps = [text_of(what) for what in timeline.select("#order-timeline .timeline-what")]
    assert "hat eine Rücksendung erfasst: 1 × LAMP-1" in steps
    assert "hat die zurückgesandte Ware erhalten" in steps
    # The audit trail's note keeps the English words, as every note does.
    note = db.session.scalar(select(AuditEvent.note).where(AuditEvent.action == "receive_return"))
    assert note == "LAMP-1 × 1: back to stock"


def test_job_states_read_in_german_on_the_list_and_in_the_progress_document(client, approved):
    listing = parse(client.get("/admin/jobs/").get_data(as_text=True))
    assert [text_of(b) for b in listing.select(".job-badge")] == ["Eingereiht"]
    job_id = db.session.scalar(select(Job.id))
    page = parse(client.get(f"/admin/jobs/{job_id}/").get_data(as_text=True))
    assert text_of(page.find(id="job-state")) == "Eingereiht"
    progress = client.get(f"/admin/jobs/{job_id}/progress").get_json()
    # The script compares the stored state and shows the label.
    assert progress["state"] == "queued" and progress["state_label"] == "Eingereiht"


def test_job_counts_are_written_the_german_way(client, approved):
    job = db.session.scalar(select(Job))
    job.progress_done, job.progress_total = 1234, 56789
    db.session.commit()
    listing = parse(client.get("/admin/jobs/").get_data(as_text=True))
    assert "1.234 / 56.789" in text_of(listing.select_one("table"))
    page = parse(client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True))
    assert text_of(page.find(id="job-count")) == "1.234 von 56.789 Zeilen"


def test_audit_actions_read_in_german_while_the_trail_keeps_the_action(client, approved):
    listing = client.get("/admin/audit/").get_data(as_text=True)
    assert filter_options(listing, "Action")["approve"] == "Genehmigt"
    actions = {text_of(td) for td in parse(listing).select("td.col-action")}
    assert "Genehmigt" in actions and "approve" not in actions
    stored = db.session.scalars(select(AuditEvent.action)).all()
    assert audit.APPROVE in stored
    home = parse(client.get("/admin/").get_data(as_text=True))
    assert "Genehmigt" in text_of(home.find(id="widget-my-activity"))


def test_stock_reasons_read_in_german_while_the_audit_note_keeps_english(client, approved):
    listing = client.get("/admin/stock/movements/").get_data(as_text=True)
    reasons = {text_of(td) for td in parse(listing).select("td.col-reason")}
    assert "Für Bestellung reserviert" in reasons
    assert filter_options(listing, "Reason")["received"] == "Eingegangen"
    assert "reserve" in db.session.scalars(select(StockMovement.reason)).all()
    form = parse(client.get("/admin/stock/adjust/").get_data(as_text=True))
    assert "Gezählt" in text_of(form.find(id="stock-adjust-form"))


def test_email_deliveries_read_in_german_in_the_outbox_and_its_filter(client, approved):
    _manager, approved_order, _pending = approved
    listing = client.get("/admin/notification/").get_data(as_text=True)
    badges = {text_of(b) for b in parse(listing).select("td.col-status .delivery-badge")}
    assert badges == {"Eingereiht"}
    assert filter_options(listing, "Status") == {
        "pending": "Ausstehend",
        "sending": "Wird gesendet",
        "sent": "Gesendet",
        "failed": "Fehlgeschlagen",
    }
    # The order's timeline names the e-mail's delivery the same way.
    page = parse(client.get(f"/admin/order/details/?id={approved_order.id}").get_data(True))
    assert "Eingereiht" in {text_of(b) for b in page.select("#order-timeline .delivery-badge")}
    told = {text_of(d) for d in page.select("#order-timeline .timeline-delivery")}
    assert told == {"wartet auf den Versand"}
    assert set(db.session.scalars(select(OutboxMessage.status))) == {"pending"}


def test_a_sent_email_on_the_timeline_reads_in_german_at_the_readers_time(client, approved, app):
    """Sent at 23:30 UTC, read by a manager in Berlin: the next day, 00:30 CET."""
    manager, approved_order, _pending = approved
    manager.timezone = "Europe/Berlin"
    for message in db.session.scalars(select(OutboxMessage)):
        message.status = "sent"
        message.sent_at = dt.datetime(2026, 11, 30, 23, 30)
    db.session.commit()
    page = parse(client.get(f"/admin/order/details/?id={approved_order.id}").get_data(True))
    told = {text_of(d) for d in page.select("#order-timeline .timeline-delivery")}
    assert told == {"gesendet 01.12.2026, 00:30"}


def test_import_states_and_kinds_read_in_german(client, auth):
    manager = auth.login_as("admin")
    manager.language = "de"
    db.session.commit()
    token = csrf_token_from(client.get("/admin/customer/import/").get_data(as_text=True))
    data = b"email,first_name,last_name\nneu@example.com,Neu,Kunde\n"
    response = client.post(
        "/admin/customer/import/",
        data={"csrf_token": token, "file": (io.BytesIO(data), "kunden.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    batch = parse(client.get(response.headers["Location"]).get_data(as_text=True))
    assert text_of(batch.find(id="import-state")) == "Hochgeladen"
    assert text_of(batch.select_one("p.text-muted")).startswith("Kunden, 1 ")
    upload = parse(client.get("/admin/customer/import/").get_data(as_text=True))
    assert text_of(upload.find("h2")) == "Kunden importieren"
    assert "Hochgeladen" in [text_of(td) for td in upload.select("td")]
    assert db.session.scalar(select(ImportBatch.state)) == "uploaded"


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_every_word_of_a_vocabulary_has_a_label_in_each_language(app, vocabulary):
    from flask_babel import force_locale

    with app.test_request_context():
        english = [str(member.label) for member in vocabulary]
        for locale in ("de_DE", "fr_FR"):
            with force_locale(locale):
                translated = [str(member.label) for member in vocabulary]
            # Each word has its own label, and the language gives another wording.
            assert len(set(translated)) == len(translated)
            assert translated != english


def test_every_known_audit_action_has_a_label(app):
    assert set(audit.ACTION_LABELS) == set(audit.KNOWN_ACTIONS)
    with app.test_request_context():
        # An action a service records under its own word reads as that word.
        assert audit.action_label("merge_customer") == "merge customer"


def test_a_refusal_names_the_statuses_in_the_readers_words(app, approved):
    from flask_babel import force_locale

    from console.services.errors import DomainError

    manager, approved_order, _pending = approved
    number = approved_order.number
    with app.test_request_context(), force_locale("de_DE"):
        with pytest.raises(DomainError) as again:
            workflow.approve(db.session, approved_order.id, manager)
        with pytest.raises(DomainError) as early:
            workflow.deliver(db.session, approved_order.id, manager)
    assert again.value.message == (
        f"Bestellung {number} ist genehmigt; nur Bestellungen im Status offen können "
        "genehmigt werden."
    )
    assert early.value.message == (
        f"Bestellung {number} ist genehmigt; nur Bestellungen im Status versendet können "
        "zugestellt werden."
    )


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        # An order (Bestellung) is cancelled by the shop, a job is broken off.
        (
            "de_DE",
            {
                (OrderStatus.CANCELLED, "Storniert"),
                (JobState.CANCELLED, "Abgebrochen"),
                (JobState.FAILED, "Fehlgeschlagen"),
                (ImportState.FAILED, "Fehlgeschlagen"),
            },
        ),
        # Each label agrees with its noun: la commande, la tâche (feminine), l'import
        # (masculine).
        (
            "fr_FR",
            {
                (OrderStatus.CANCELLED, "Annulée"),
                (JobState.CANCELLED, "Annulée"),
                (JobState.FAILED, "Échouée"),
                (ImportState.FAILED, "Échoué"),
            },
        ),
    ],
)
def test_a_word_shared_by_vocabularies_is_translated_in_each_ones_own_words(app, locale, words):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale(locale):
        assert {(value, str(value.label)) for value, _word in words} == words


def test_api_tokens_and_a_products_movements_read_in_the_readers_words_and_zone(
    client, auth, clock
):
    from tests.factories import api_secret

    clock.move_to(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC))
    admin = auth.login_as("admin")
    admin.language, admin.timezone = "de", "Europe/Berlin"
    db.session.commit()
    api_secret(["orders.read"], name="Shop")
    page = parse(client.get("/admin/api_tokens/").get_data(as_text=True))
    row = [text_of(td) for td in page.select("tbody tr")[0].find_all("td")]
    # No expiry, never used, active: in German, not the stored English words.
    assert row[4:7] == ["nie", "nie", "Aktiv"]
    assert "Läuft ab" in [text_of(th) for th in page.select("thead th")]

    lamp = ProductFactory(sku="LAMP-1", unit_price=Decimal("10.00"), stock=5)
    details = parse(client.get(f"/admin/product/details/?id={lamp.id}").get_data(as_text=True))
    first = [text_of(td) for td in details.select(".stock-movements tbody tr")[0].find_all("td")]
    # 23:30 UTC is half past midnight the next day in Berlin, and the zone is named.
    assert first[0] == "02.12.2026, 00:30 CET"
    assert first[5] == "(System)"
