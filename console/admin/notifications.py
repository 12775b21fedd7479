"""Notifications: every e-mail of the outbox, its delivery state and its content."""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup

from console.admin.base import SecuredModelView
from console.admin.formatters import datetime_formatter, delivery_badge
from console.database import db
from console.models import OutboxMessage, OutboxStatus
from console.permissions import NOTIFICATIONS_READ
from console.services import notifications
from console.services.errors import DomainError

STATUS_CHOICES = [(status.value, status.label) for status in OutboxStatus]


CONFIDENTIAL = Markup(
    "<em>Staff sign-in e-mail: its content (a password reset link) is shown to nobody "
    "but its recipient.</em>"
)


def text_body_formatter(view: Any, context: Any, model: OutboxMessage, name: str) -> Markup:
    if notifications.is_confidential(model):
        return CONFIDENTIAL
    return Markup('<pre class="mb-0" style="white-space: pre-wrap;">{}</pre>').format(
        model.body_text
    )


def html_body_formatter(view: Any, context: Any, model: OutboxMessage, name: str) -> Markup:
    """The HTML part as the customer sees it, in a sandbox: no script, no form, no link out."""
    if notifications.is_confidential(model):
        return CONFIDENTIAL
    if not model.body_html:
        return Markup("<em>No HTML part.</em>")
    return Markup(
        '<iframe sandbox="" title="HTML part" srcdoc="{}" '
        'style="width: 100%; height: 480px; border: 1px solid #ddd;"></iframe>'
    ).format(model.body_html)


def delivery_state_formatter(view: Any, context: Any, model: OutboxMessage, name: str) -> Markup:
    """The message's delivery as the order's page shows it: a badge with its word."""
    return delivery_badge(notifications.delivery_state(model))


class NotificationAdmin(SecuredModelView):
    read_permission = NOTIFICATIONS_READ
    # Recipients are personal data: no CSV download of the outbox.
    export_permission = None

    column_list = [
        "created_at",
        "recipient",
        "subject",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
    ]
    column_labels = {
        "created_at": lazy_gettext("Queued"),
        "next_attempt_at": lazy_gettext("Next attempt"),
        "last_attempt_at": lazy_gettext("Last attempt"),
        "sent_at": lazy_gettext("Sent"),
        "body_text": lazy_gettext("Text part"),
        "body_html": lazy_gettext("HTML part"),
        "invoice": lazy_gettext("Invoice attached (PDF)"),
        "credit_note": lazy_gettext("Credit note attached (PDF)"),
    }
    column_searchable_list = ["recipient"]
    search_hint = lazy_gettext("Search by recipient e-mail")
    column_filters = [
        FilterEqual(OutboxMessage.status, "Status", options=STATUS_CHOICES),
        "recipient",
        "created_at",
    ]
    column_sortable_list = ["created_at", "recipient", "status", "attempts", "sent_at"]
    column_default_sort = ("id", True)
    column_formatters = {
        "status": delivery_state_formatter,
        "created_at": datetime_formatter,
        "next_attempt_at": datetime_formatter,
        "sent_at": datetime_formatter,
    }
    column_details_list = [
        "recipient",
        "sender",
        "subject",
        "status",
        "attempts",
        "last_error",
        "order",
        "invoice",
        "credit_note",
        "template",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "sent_at",
        "body_text",
        "body_html",
    ]
    column_formatters_detail = {
        "status": delivery_state_formatter,
        "body_text": text_body_formatter,
        "body_html": html_body_formatter,
    }

    action_permissions = {"resend": NOTIFICATIONS_READ}

    @action("resend", lazy_gettext("Resend"), lazy_gettext("Send the selected messages again?"))
    def action_resend(self, ids: list[str]) -> None:
        try:
            queued = notifications.resend(db.session, ids, current_user._get_current_object())
        except DomainError as refused:
            flash(str(refused), "error")
            return
        skipped = len(ids) - queued
        message = gettext("%(count)s message(s) queued to be sent again.", count=queued)
        if skipped:
            message += " " + gettext(
                "%(count)s being sent right now were left alone.", count=skipped
            )
        flash(message, "success")
