"""``/admin/api_tokens/``: API tokens, made and revoked by staff managers.

A new token's secret is shown once, on the page answering the form (never through a
redirect and a flashed message, which would carry it in the session cookie), and only
its SHA-256 is kept (``console.models.api``).
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from console.admin.base import SecuredBaseView
from console.database import db
from console.models import ApiToken, User
from console.permissions import ALL_PERMISSIONS, PERMISSION_INFO, STAFF_MANAGE
from console.services import api_tokens
from console.services.errors import DomainError
from console.services.ids import row_id


class ApiTokensView(SecuredBaseView):
    """The tokens of the API: list, make (secret shown once), revoke."""

    read_permission = STAFF_MANAGE
    fresh_endpoints = frozenset({"create", "revoke"})

    def _page(self, *, secret: str | None = None, errors: list[str] | None = None):
        """The list and the form (with the new secret, or the form's errors, shown again)."""
        tokens = db.session.scalars(
            select(ApiToken).options(selectinload(ApiToken.owner)).order_by(ApiToken.id.desc())
        )
        staff = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.email))
        return self.render(
            "admin/api_tokens.html",
            tokens=list(tokens),
            staff=list(staff),
            permissions=[(p, PERMISSION_INFO[p][1]) for p in ALL_PERMISSIONS],
            secret=secret,
            errors=errors or [],
            form=request.form,
        )

    @expose("/")
    def index(self):
        return self._page()

    @expose("/new/", methods=("POST",))
    def create(self):
        """Make a token from the form; the answer shows its secret, once."""
        owner_id = row_id(request.form.get("owner_id"))
        owner = db.session.get(User, owner_id) if owner_id else None
        expires_at = None
        errors = []
        if owner is None:
            errors.append(gettext("Choose the staff member the token acts as."))
        if request.form.get("expires_on"):
            try:
                expires_at = dt.datetime.combine(
                    dt.date.fromisoformat(request.form["expires_on"]), dt.time()
                )
            except ValueError:
                errors.append(
                    gettext("Enter the expiry as a date (YYYY-MM-DD), or leave it empty.")
                )
        if errors:
            return self._page(errors=errors)
        try:
            token, secret = api_tokens.create(
                db.session,
                current_user._get_current_object(),
                owner,
                request.form.get("name", ""),
                request.form.getlist("permissions"),
                expires_at,
            )
            db.session.commit()
        except DomainError as refused:
            db.session.rollback()
            return self._page(errors=[refused.message])
        return self._page(secret=secret)

    @expose("/<int:token_id>/revoke/", methods=("POST",))
    def revoke(self, token_id: int):
        """Revoke a token: every request with it answers 401 from now on."""
        number = row_id(token_id)
        token = db.session.get(ApiToken, number) if number else None
        if token is None:
            abort(404)
        try:
            api_tokens.revoke(db.session, current_user._get_current_object(), token)
            db.session.commit()
        except DomainError as refused:
            db.session.rollback()
            flash(refused.message, "error")
        else:
            flash(gettext("Token %(name)s is revoked.", name=token.name), "success")
        return redirect(url_for(".index"))
