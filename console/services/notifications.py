"""Customer e-mails: rendered from templates and stored in the outbox.

Services never send mail. They call ``enqueue_email`` inside their own transaction, so
the message is committed together with the change it reports (or not at all), and
``console.notify`` delivers it later, retrying until the SMTP server takes it.

Templates come in pairs, ``templates/email/<name>.txt`` and ``<name>.html``, rendered
through ``render_email`` alone so that every message has a readable plain-text part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, render_template
from flask_babel import gettext
from jinja2 import TemplateNotFound
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from console.database import rowcount
from console.i18n import writing_for
from console.models import CreditNote, Invoice, Order, OutboxMessage, OutboxStatus, User
from console.models.base import utcnow
from console.permissions import NOTIFICATIONS_READ
from console.services.errors import DomainError
from console.services.ids import row_id
from console.services.order_links import link_for

OUTBOX_DIRTY = "console_outbox_enqueued"
"""``Session.info`` key set when a message was added; delivery is woken after commit."""


def render_email(template: str, context: Mapping[str, Any]) -> tuple[str, str | None]:
    """Render ``templates/email/<template>.txt`` and its ``.html`` twin (optional).

    The text part is required: it is what every mail client can show. Needs an app
    context (not a request): e-mails are also rendered by the seed and the CLI.
    """
    context = {"shop_name": current_app.config["SHOP_NAME"], **context}
    text = render_template(f"email/{template}.txt", **context)
    try:
        html = render_template(f"email/{template}.html", **context)
    except TemplateNotFound:
        html = None
    return text, html


def enqueue_email(
    session: Session,
    to: str,
    template: str,
    context: Mapping[str, Any],
    *,
    subject: str,
    sender: str | None = None,
    order: Order | None = None,
    attach: Invoice | CreditNote | None = None,
) -> OutboxMessage:
    """Render ``template`` for ``to`` and add it to the outbox in ``session``'s transaction.

    Nothing is sent here: the caller commits (or rolls back) the message with the
    change it belongs to; a dispatcher delivers it after the commit. ``attach``: an
    issued document that goes with the message as its PDF.
    """
    text, html = render_email(template, context)
    return enqueue_rendered(
        session,
        to,
        subject,
        text,
        html,
        template=template,
        sender=sender,
        order=order,
        attach=attach,
    )


SECURITY_TEMPLATE_PREFIX = "security/"
"""Template names of staff sign-in mail (password reset links and notices)."""


def enqueue_rendered(
    session: Session,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    *,
    template: str,
    sender: str | None = None,
    order: Order | None = None,
    attach: Invoice | CreditNote | None = None,
) -> OutboxMessage:
    """Add an already rendered message to the outbox in ``session``'s transaction.

    For mail rendered elsewhere (Flask-Security-Too's sign-in mail); ``template``
    names it in the Notifications view.
    """
    message = OutboxMessage(
        recipient=to,
        sender=sender or current_app.config["MAIL_DEFAULT_SENDER"],
        subject=subject,
        template=template,
        body_text=text,
        body_html=html,
        order=order,
        invoice=attach if isinstance(attach, Invoice) else None,
        credit_note=attach if isinstance(attach, CreditNote) else None,
        status=OutboxStatus.PENDING.value,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.info[OUTBOX_DIRTY] = True
    return message


def is_confidential(message: OutboxMessage) -> bool:
    """True for sign-in mail: its reset links would let a reader take over the account."""
    return message.template.startswith(SECURITY_TEMPLATE_PREFIX)


def enqueue_order_email(
    session: Session,
    order: Order,
    template: str,
    *,
    attach: Invoice | CreditNote | None = None,
    context: Mapping[str, Any] | None = None,
) -> OutboxMessage:
    """Queue the customer's e-mail ``template`` about ``order`` (number, lines, totals),
    with ``attach`` (its invoice or a credit note) as a PDF attachment; ``context``
    adds to what the template sees (a return).

    Written in the customer's language (else the shop's), whoever's request sent it:
    subject, body, amounts and dates; times in the shop's zone, not the sender's
    (``console.i18n.writing_for``).
    """
    with writing_for(order.customer):
        subjects = current_app.config["ORDER_EMAIL_SUBJECTS"]
        # The subjects are marked for extraction in config.py; an operator's own wording
        # has no catalogue entry and is sent as written.
        subject = gettext(subjects[template]).format(
            number=order.number, shop=current_app.config["SHOP_NAME"]
        )
        values = {
            "order": order,
            "customer": order.customer,
            "lines": list(order.lines),
            "currency": current_app.config["CONSOLE_CURRENCY"],
            "order_url": link_for(order),
            "invoice": attach if isinstance(attach, Invoice) else None,
            "credit_note": attach if isinstance(attach, CreditNote) else None,
            **(context or {}),
        }
        return enqueue_email(
            session,
            order.customer.email,
            template,
            values,
            subject=subject,
            order=order,
            attach=attach,
        )


def resend(session: Session, message_ids: Iterable[int], actor: User) -> int:
    """Put messages back in the queue for one more round of attempts.

    Used for a failed message once its cause is fixed, or for a customer who lost the
    mail. A message being sent right now is left alone (it would go out twice), and
    so is an id no message can have. Commits; returns how many messages were queued
    again.
    """
    if not actor.has_permission(NOTIFICATIONS_READ):
        raise DomainError(gettext("Your role does not allow resending e-mails."))
    return requeue(session, OutboxMessage, message_ids)


def requeue(session: Session, model: Any, row_ids: Iterable[Any]) -> int:
    """Put rows of a delivery queue (the outbox, webhook deliveries) back for a new
    round of attempts; ids no row can have are ignored. Commits; returns how many."""
    ids = [number for number in map(row_id, row_ids) if number is not None]
    if not ids:
        return 0
    try:
        # One conditional UPDATE: a row a dispatcher claims at this very moment keeps
        # its claim instead of being reset under it (it would go out twice).
        statement = (
            update(model)
            .where(model.id.in_(ids), model.status != "sending")
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=utcnow(),
                claim_token=None,
                claimed_at=None,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        queued = rowcount(session.execute(statement))
        session.info[OUTBOX_DIRTY] = True
        session.commit()
    except Exception:
        session.rollback()
        raise
    return queued


DELIVERY_STATES = ("queued", "sending", "sent", "retrying", "failed")
"""How a message's delivery reads on an order's page, in the order it goes through."""


def delivery_state(message: OutboxMessage) -> str:
    """``queued`` (no attempt yet), ``sending``, ``sent``, ``retrying`` (an attempt
    failed, another is due) or ``failed`` (gave up; a person may resend it)."""
    if message.status == OutboxStatus.PENDING.value:
        return "retrying" if message.attempts else "queued"
    return message.status


def messages_of_order(session: Session, order_id: int, limit: int = 200) -> list[OutboxMessage]:
    """The e-mails about order ``order_id``, oldest first (the newest ``limit``)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.order_id == order_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all()))
