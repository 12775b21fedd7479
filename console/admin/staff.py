"""Staff accounts and roles, for administrators (``staff.manage``).

The views collect input; every change goes through ``console.services.staff``, which
enforces the rules (last active admin, one's own admin rights) in one transaction.
A new account is invited: the administrator gives its e-mail and roles, and the person
chooses their own password from the invitation e-mail (``console.services.invitations``).
Changes need a recent sign-in: after ``CONSOLE_STAFF_FRESHNESS`` the console asks for
the password again before showing a staff form or running a staff action.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from wtforms import SelectMultipleField

from console import localtime
from console.admin.base import SecuredModelView
from console.admin.fields import known_choices, lower, strip
from console.admin.formatters import badge, datetime_formatter
from console.admin.lookups import as_int_id
from console.admin.sessions import session_rows
from console.database import db
from console.i18n import LANGUAGE_NAMES
from console.models import Role, User
from console.models.base import utcnow
from console.permissions import ALL_PERMISSIONS, PERMISSION_INFO, STAFF_MANAGE
from console.security.sessions import current_session_key
from console.services import sessions as sessions_service
from console.services import staff as staff_service
from console.services.errors import DomainError

STAFF_CHANGES = frozenset({"create_view", "edit_view", "action_view"})


def _actor() -> User:
    """The signed-in person as a model instance (not Flask-Login's proxy)."""
    return current_user._get_current_object()


def roles_formatter(view: Any, context: Any, model: User, name: str) -> str:
    return ", ".join(sorted(role.name for role in model.roles))


def permissions_formatter(view: Any, context: Any, model: Role, name: str) -> Markup:
    names = model.get_permissions()
    return Markup("<br>").join(sorted(names)) if names else Markup("<em>none</em>")


def two_factor_formatter(view: Any, context: Any, model: User, name: str) -> str:
    return "on" if model.tf_primary_method else "off"


def _when(value) -> str:
    return localtime.show(value)


def invitation_state(model: User) -> Markup | None:
    """Where the account's invitation stands, as a badge and its dates; None once it was
    accepted."""
    invitation = model.invitation
    if invitation is None or invitation.accepted_at is not None:
        return None
    sent = _when(invitation.sent_at)
    if not invitation.is_pending:
        state, word, dates = "revoked", "Invitation revoked", f"(sent {sent})"
    elif invitation.is_expired(utcnow()):
        expired = _when(invitation.expires_at)
        state, word, dates = "expired", "Invitation expired", f"(sent {sent}, expired {expired})"
    else:
        expires = _when(invitation.expires_at)
        state, word, dates = "invited", "Invited", f"(sent {sent}, expires {expires})"
    return Markup("{} {}").format(badge("invitation", state, word), dates)


def invitation_formatter(view: Any, context: Any, model: User, name: str) -> Markup:
    """The invitation's state while it waits to be accepted; empty otherwise."""
    return invitation_state(model) or Markup("")


def _invitation_form(form_class: type) -> type:
    """The create form: no active flag (accepting the invitation activates the
    account), and at least one role, said on the field.

    Flask-Admin makes the roles field ``Optional``, which ends its validation when
    nothing is chosen, before any validator of the field could object; hence the check
    after the fields' own.
    """

    class InvitationForm(form_class):  # type: ignore[valid-type, misc]
        active = None  # a field set to None in a subclass is removed (WTForms)

        def validate(self, extra_validators=None) -> bool:
            valid = super().validate(extra_validators=extra_validators)
            if not self.roles.errors and not self.roles.data:
                self.roles.errors.append(staff_service.NO_ROLE)
                return False
            return valid

    InvitationForm.__name__ = form_class.__name__
    return InvitationForm


class PermissionAreasWidget:
    """Permissions as check boxes grouped by area, each with its name and description.

    The whole label (name and description) toggles its box, so that the target is
    large enough for a finger on a phone.
    """

    def __call__(self, field: SelectMultipleField, **kwargs: Any) -> Markup:
        areas: dict[str, list[Markup]] = {}
        for number, option in enumerate(field):
            area, name, description = PERMISSION_INFO.get(option.data, ("Other", option.data, ""))
            box_id = f"{field.id}-{number}"
            areas.setdefault(area, []).append(
                Markup(
                    '<div class="custom-control custom-checkbox permission-choice">'
                    '<input type="checkbox" class="custom-control-input" id="{}" name="{}" '
                    'value="{}"{}>'
                    '<label class="custom-control-label" for="{}">{} '
                    '<small class="d-block text-muted">{} <code>{}</code></small></label></div>'
                ).format(
                    box_id,
                    field.name,
                    option.data,
                    Markup(" checked") if option.checked else "",
                    box_id,
                    name,
                    description,
                    option.data,
                )
            )
        return Markup('<div class="permission-areas" id="{}">{}</div>').format(
            field.id,
            Markup("").join(
                Markup('<fieldset class="permission-area"><legend>{}</legend>{}</fieldset>').format(
                    area, Markup("").join(choices)
                )
                for area, choices in areas.items()
            ),
        )


class CheckboxListField(SelectMultipleField):
    """Permissions as check boxes, grouped by area (``PermissionAreasWidget``)."""

    widget = PermissionAreasWidget()


class StaffUserAdmin(SecuredModelView):
    """Staff accounts: invite, (de)activate, roles, reset; resend or revoke invitations."""

    read_permission = STAFF_MANAGE
    write_permission = STAFF_MANAGE
    delete_permission = None  # accounts are deactivated, never deleted (orders name them)
    export_permission = None
    action_permissions = {
        "force_password_reset": STAFF_MANAGE,
        "reset_two_factor": STAFF_MANAGE,
        "resend_invitation": STAFF_MANAGE,
        "revoke_invitation": STAFF_MANAGE,
    }
    endpoint_permissions = {"end_sessions": STAFF_MANAGE}
    fresh_endpoints = STAFF_CHANGES
    details_template = "admin/staff_user/details.html"

    column_list = [
        "email",
        "active",
        "invitation_status",
        "roles",
        "tf_primary_method",
        "last_login_at",
        "last_login_ip",
        "login_count",
    ]
    column_details_list = [
        "email",
        "active",
        "invitation_status",
        "roles",
        "tf_primary_method",
        "current_login_at",
        "current_login_ip",
        "last_login_at",
        "last_login_ip",
        "login_count",
        "create_datetime",
        "update_datetime",
    ]
    column_labels = {
        "email": lazy_gettext("E-mail"),
        "invitation_status": lazy_gettext("Invitation"),
        "tf_primary_method": lazy_gettext("Two-factor"),
        "last_login_at": lazy_gettext("Previous sign-in"),
        "last_login_ip": lazy_gettext("Previous sign-in address"),
        "current_login_at": lazy_gettext("Latest sign-in"),
        "current_login_ip": lazy_gettext("Latest sign-in address"),
        "login_count": lazy_gettext("Sign-ins"),
        "create_datetime": lazy_gettext("Created"),
        "update_datetime": lazy_gettext("Updated"),
    }
    column_formatters = {
        "invitation_status": invitation_formatter,
        "roles": roles_formatter,
        "tf_primary_method": two_factor_formatter,
        "last_login_at": datetime_formatter,
        "current_login_at": datetime_formatter,
    }
    column_formatters_detail = column_formatters
    column_searchable_list = ["email"]
    search_hint = lazy_gettext("Search by e-mail")
    column_filters = ["active"]
    column_default_sort = "email"

    form_columns = ["email", "roles", "language", "active"]
    # The language of the invitation e-mail and of the console for the new account
    # (the person may change it on their profile); blank: the shop's.
    form_choices = {"language": list(LANGUAGE_NAMES.items())}
    form_args = {
        "email": {"filters": [strip, lower]},
        "language": {"filters": [strip], "blank_text": lazy_gettext("The shop’s language")},
        # An id no role has is an error on the field, not a silent "no role".
        "roles": {"validators": [known_choices]},
    }

    def get_query(self):
        """The list loads every shown account's invitation in one more query."""
        return super().get_query().options(selectinload(User.invitation))

    def get_create_form(self):
        """E-mail and at least one role: the account opens when the person accepts."""
        return _invitation_form(super().get_create_form())

    def get_edit_form(self):
        """Editing changes roles and the active flag; the e-mail stays, and the language
        is the person's own choice (their profile)."""
        form_class = super().get_edit_form()
        return type(form_class.__name__, (form_class,), {"email": None, "language": None})

    def create_model(self, form):
        """Invite the person (once per opened form: ``OneTimeCreateMixin``)."""
        return self.create_once(form, self._invite)

    def _invite(self, form):
        try:
            user = staff_service.create_staff(
                db.session,
                _actor(),
                email=form.email.data,
                roles=form.roles.data,
                language=form.language.data,
            )
        except DomainError as exc:
            flash(exc.message, "error")
            return False
        flash(
            gettext(
                "Invitation e-mailed to %(email)s. The account becomes active when they "
                "choose their password; the link works until %(until)s.",
                email=user.email,
                until=_when(user.invitation.expires_at),
            ),
            "success",
        )
        return user

    def render(self, template, **kwargs):
        """The account page also lists the person's active sessions and invitation."""
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs["sessions"] = session_rows(kwargs["model"])
            kwargs["invitation_state"] = invitation_state(kwargs["model"])
        return super().render(template, **kwargs)

    @expose("/sessions/end/", methods=("POST",))
    def end_sessions(self):
        """Sign the account out everywhere (every one of its sessions ends)."""
        user = self.get_one(request.args.get("id", ""))
        if user is None:
            flash(gettext("That staff account does not exist; no session was ended."), "error")
            return redirect(self.get_url(".index_view"))
        try:
            ended = sessions_service.sign_out_everywhere(db.session, _actor(), user, keep=None)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(
                gettext("%(email)s: %(count)s session(s) ended.", email=user.email, count=ended),
                "success",
            )
        return redirect(self.get_url(".details_view", id=user.id))

    def update_model(self, form, model: User) -> bool:
        if not self.accept_version(form, model):
            return False
        try:
            staff_service.update_staff(
                db.session,
                _actor(),
                model,
                active=form.active.data,
                roles=form.roles.data,
                keep_session=current_session_key(),
            )
        except DomainError as exc:
            flash(exc.message, "error")
            return False
        return True

    @action(
        "force_password_reset",
        lazy_gettext("Force password reset"),
        lazy_gettext(
            "Their current password stops working now and they receive a reset e-mail. Continue?"
        ),
    )
    def action_force_password_reset(self, ids: list[str]) -> None:
        done = self._for_each_account(ids, staff_service.force_password_reset)
        if done:
            flash(
                gettext(
                    "Password reset forced for %(count)s account(s); reset e-mails sent.",
                    count=done,
                ),
                "success",
            )

    @action(
        "reset_two_factor",
        lazy_gettext("Reset two-factor sign-in"),
        lazy_gettext(
            "They sign in with their password only and must set up an authenticator again. "
            "Continue?"
        ),
    )
    def action_reset_two_factor(self, ids: list[str]) -> None:
        done = self._for_each_account(ids, staff_service.reset_two_factor)
        if done:
            flash(
                gettext("Two-factor sign-in reset for %(count)s account(s).", count=done), "success"
            )

    @action(
        "resend_invitation",
        lazy_gettext("Resend invitation"),
        lazy_gettext(
            "They receive a new invitation link; links sent before stop working. Continue?"
        ),
    )
    def action_resend_invitation(self, ids: list[str]) -> None:
        done = self._for_each_account(ids, staff_service.resend_invitation)
        if done:
            flash(
                gettext(
                    "Invitation sent again to %(count)s account(s); earlier links no longer work.",
                    count=done,
                ),
                "success",
            )

    @action(
        "revoke_invitation",
        lazy_gettext("Revoke invitation"),
        lazy_gettext(
            "Their invitation link stops working and the account stays unusable until an "
            "invitation is sent again. Continue?"
        ),
    )
    def action_revoke_invitation(self, ids: list[str]) -> None:
        done = self._for_each_account(ids, staff_service.revoke_invitation)
        if done:
            flash(
                gettext(
                    "Invitation revoked for %(count)s account(s); their links no longer work.",
                    count=done,
                ),
                "success",
            )

    def _for_each_account(self, ids: list[str], change) -> int:
        """Apply ``change(session, actor, user)`` to each selected account; how many took.

        A refusal is flashed with the account's e-mail and does not stop the others.
        """
        done = 0
        for user_id in ids:
            number = as_int_id(user_id)
            user = None if number is None else db.session.get(User, number)
            if user is None:
                continue
            try:
                change(db.session, _actor(), user)
            except DomainError as exc:
                flash(
                    gettext("%(email)s: %(problem)s", email=user.email, problem=exc.message),
                    "error",
                )
                continue
            done += 1
        return done


class RoleAdmin(SecuredModelView):
    """Roles and the permissions each one grants."""

    read_permission = STAFF_MANAGE
    write_permission = STAFF_MANAGE
    delete_permission = None
    export_permission = None
    fresh_endpoints = STAFF_CHANGES

    column_list = ["name", "description", "permissions"]
    column_details_list = ["name", "description", "permissions", "update_datetime"]
    column_formatters = {"permissions": permissions_formatter}
    column_formatters_detail = column_formatters
    column_default_sort = "name"

    form_columns = ["name", "description", "permissions"]
    form_extra_fields = {
        "permissions": CheckboxListField(
            lazy_gettext("Permissions"), choices=[(name, name) for name in ALL_PERMISSIONS]
        )
    }

    def get_edit_form(self):
        """A role keeps its name (staff and seeds find it by name)."""
        form_class = super().get_edit_form()
        delattr(form_class, "name")
        return form_class

    def on_form_prefill(self, form, id) -> None:
        if not self.restoring_draft():  # a restored form shows what was typed
            form.permissions.data = sorted(self.get_one(id).get_permissions())

    def create_model(self, form):
        """Create the role (once per opened form: ``OneTimeCreateMixin``)."""
        return self.create_once(form, self._create_role)

    def _create_role(self, form):
        try:
            return staff_service.create_role(
                db.session,
                _actor(),
                name=form.name.data,
                description=form.description.data,
                permissions=form.permissions.data,
            )
        except DomainError as exc:
            flash(exc.message, "error")
            return False

    def update_model(self, form, model: Role) -> bool:
        try:
            staff_service.set_role_permissions(
                db.session,
                _actor(),
                model,
                form.permissions.data,
                description=form.description.data,
            )
        except DomainError as exc:
            flash(exc.message, "error")
            return False
        return True
