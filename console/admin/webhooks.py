"""Webhooks, for administrators (``staff.manage``): endpoints and their delivery log.

The views collect input; ``console.services.webhooks`` checks the URL (HTTPS, public
addresses), the events and the permission, and generates the secret. The secret is
shown on the endpoint's page to admins and can be rotated (docs/webhooks.md says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, url_for
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectMultipleField, StringField
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from console import localtime
from console.admin.base import SecuredModelView
from console.admin.fields import strip
from console.admin.formatters import datetime_formatter, delivery_badge
from console.database import db
from console.models import DeliveryStatus, User, WebhookDelivery, WebhookEndpoint
from console.permissions import STAFF_MANAGE
from console.services import webhooks
from console.services.errors import DomainError

EVENT_CHOICES = [(name, f"{name}: {meaning}") for name, meaning in webhooks.EVENTS.items()]


def _actor() -> User:
    return current_user._get_current_object()


class EventChoicesField(SelectMultipleField):
    """The events an endpoint wants, as check boxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def endpoint_state(endpoint: WebhookEndpoint) -> Markup:
    """Active, off, or disabled by failures (a red badge admins cannot miss)."""
    if endpoint.active:
        return Markup('<span class="badge badge-success webhook-state">{}</span>').format(
            gettext("Active")
        )
    if endpoint.disabled_by_failures:
        return Markup('<span class="badge badge-danger webhook-state" title="{}">{}</span>').format(
            gettext(
                "Disabled at %(time)s; tick Active to resume",
                time=localtime.show(endpoint.disabled_at),
            ),
            gettext("Disabled after failures"),
        )
    return Markup('<span class="badge badge-secondary webhook-state">{}</span>').format(
        gettext("Off")
    )


def _state_formatter(view: Any, context: Any, model: WebhookEndpoint, name: str) -> Markup:
    return endpoint_state(model)


def _events_formatter(view: Any, context: Any, model: WebhookEndpoint, name: str) -> str:
    return ", ".join(model.events or ())


def _secret_formatter(view: Any, context: Any, model: WebhookEndpoint, name: str) -> Markup:
    return Markup('<code class="webhook-secret">{}</code>').format(model.secret)


def _saved(save: Callable[..., Any], form: Any, *endpoint: WebhookEndpoint) -> Any:
    """``save`` (the service's create or update) with the form's values; False (the
    service's reason flashed) when it refuses."""
    try:
        return save(
            db.session,
            _actor(),
            *endpoint,
            url=form.endpoint_url.data or "",
            events=form.events.data or [],
            description=form.description.data,
            active=bool(form.active.data),
        )
    except DomainError as refused:
        flash(refused.message, "error")
        return False


class WebhookEndpointAdmin(SecuredModelView):
    """Where order events are posted; never deleted (turn Active off instead)."""

    read_permission = STAFF_MANAGE
    write_permission = STAFF_MANAGE
    delete_permission = None
    export_permission = None
    action_permissions = {"rotate_secret": STAFF_MANAGE}

    column_list = ["url", "description", "events", "state", "consecutive_failures", "created_at"]
    column_details_list = [
        "url",
        "description",
        "events",
        "state",
        "consecutive_failures",
        "disabled_at",
        "secret",
        "created_at",
        "updated_at",
    ]
    column_labels = {
        "url": lazy_gettext("URL"),
        "consecutive_failures": lazy_gettext("Failures in a row"),
        "disabled_at": lazy_gettext("Disabled at"),
        "secret": lazy_gettext("Signing secret"),
        "created_at": lazy_gettext("Created"),
        "updated_at": lazy_gettext("Updated"),
    }
    column_formatters = {
        "state": _state_formatter,
        "events": _events_formatter,
        "created_at": datetime_formatter,
    }
    column_formatters_detail = {
        **column_formatters,
        "secret": _secret_formatter,
        "disabled_at": datetime_formatter,
    }
    column_default_sort = ("id", True)

    form_columns = ["endpoint_url", "description", "events", "active"]
    # The URL's form field is not called "url": that name is Flask-Admin's return
    # address, which every admin request screens (``base.screen_request``).
    form_extra_fields = {
        "endpoint_url": StringField(
            lazy_gettext("URL"),
            filters=[strip],
            validators=[InputRequired(message=lazy_gettext("Give the endpoint's URL."))],
            description=lazy_gettext(
                "https://... on a public address; the receiver checks the signature."
            ),
            render_kw={"maxlength": webhooks.MAX_URL_LENGTH},
        )
    }
    form_overrides = {"events": EventChoicesField}
    form_args = {
        "description": {"filters": [strip]},
        "events": {
            "choices": EVENT_CHOICES,
            "validators": [InputRequired(message=lazy_gettext("Choose at least one event."))],
        },
    }

    def on_form_prefill(self, form, id) -> None:
        """The edit form shows the endpoint's URL in its field."""
        model = self.get_one(id)
        if model is not None and not form.endpoint_url.data:
            form.endpoint_url.data = model.url

    def create_model(self, form):
        """Register through the service (once per opened form: ``OneTimeCreateMixin``)."""
        return self.create_once(form, self._register)

    def _register(self, form):
        endpoint = _saved(webhooks.create_endpoint, form)
        if endpoint:
            flash(
                gettext(
                    "Endpoint registered. Its signing secret is on the endpoint's page; give it "
                    "to the receiver so that it can check each delivery's signature."
                ),
                "success",
            )
        return endpoint

    def update_model(self, form, model) -> bool:
        return bool(_saved(webhooks.update_endpoint, form, model))

    def related_links(self, model: WebhookEndpoint) -> list[tuple[str, str]]:
        """The endpoint's delivery log."""
        return [
            ("Delivery log", url_for("webhook_delivery.index_view", flt0_0=model.id)),
        ]

    @action(
        "rotate_secret",
        lazy_gettext("Rotate secret"),
        lazy_gettext("Give the selected endpoints new secrets?"),
    )
    def action_rotate_secret(self, ids: list[str]) -> None:
        try:
            for endpoint_id in ids:
                webhooks.rotate_secret(db.session, _actor(), endpoint_id)
        except DomainError as refused:
            flash(refused.message, "error")
            return
        flash(
            gettext(
                "%(count)s endpoint(s) got a new secret; update their receivers.", count=len(ids)
            ),
            "success",
        )


STATUS_CHOICES = [(status.value, status.label) for status in DeliveryStatus]


def delivery_state(delivery: WebhookDelivery) -> str:
    """The delivery's state in the outbox's words (queued, retrying, sending, sent, failed)."""
    if delivery.status == DeliveryStatus.PENDING.value:
        return "retrying" if delivery.attempts else "queued"
    if delivery.status == DeliveryStatus.DELIVERED.value:
        return "sent"
    return delivery.status


def _delivery_state_formatter(view: Any, context: Any, model: WebhookDelivery, name: str):
    return delivery_badge(delivery_state(model))


def _body_formatter(view: Any, context: Any, model: WebhookDelivery, name: str) -> Markup:
    return Markup('<pre class="mb-0" style="white-space: pre-wrap;">{}</pre>').format(model.body)


class WebhookDeliveryAdmin(SecuredModelView):
    """The delivery log: each event posted to each endpoint, and how it went."""

    read_permission = STAFF_MANAGE
    export_permission = None
    action_permissions = {"resend": STAFF_MANAGE}

    column_list = [
        "created_at",
        "endpoint",
        "event_type",
        "order",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    column_details_list = [
        "endpoint",
        "event_id",
        "event_type",
        "order",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "body",
    ]
    column_labels = {
        "created_at": lazy_gettext("Event"),
        "event_type": lazy_gettext("Event"),
        "endpoint_id": lazy_gettext("Endpoint id"),
        "last_status_code": lazy_gettext("HTTP status"),
        "next_attempt_at": lazy_gettext("Next attempt"),
        "last_attempt_at": lazy_gettext("Last attempt"),
        "delivered_at": lazy_gettext("Delivered at"),
    }
    column_filters = [
        "endpoint_id",  # first: an endpoint's "Delivery log" link filters on it (flt0_0)
        FilterEqual(WebhookDelivery.status, "Status", options=STATUS_CHOICES),
        "event_type",
    ]
    column_sortable_list = ["created_at", "event_type", "status", "attempts"]
    column_default_sort = ("id", True)
    column_formatters = {
        "status": _delivery_state_formatter,
        "created_at": datetime_formatter,
        "next_attempt_at": datetime_formatter,
        "delivered_at": datetime_formatter,
    }
    column_formatters_detail = {**column_formatters, "body": _body_formatter}

    @action("resend", lazy_gettext("Resend"), lazy_gettext("Post the selected deliveries again?"))
    def action_resend(self, ids: list[str]) -> None:
        try:
            queued = webhooks.resend(db.session, ids, _actor())
        except DomainError as refused:
            flash(refused.message, "error")
            return
        skipped = len(ids) - queued
        message = gettext("%(count)s delivery(ies) queued to be posted again.", count=queued)
        if skipped:
            message += " " + gettext(
                "%(count)s being posted right now were left alone.", count=skipped
            )
        flash(message, "success")
