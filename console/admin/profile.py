"""``/admin/profile/``: what each signed-in person sets for themselves (their time zone and
language)."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from console.admin.base import SecuredBaseView
from console.database import db
from console.i18n import LANGUAGE_NAMES, known_language
from console.localtime import known_zones, shop_zone
from console.services import profile
from console.services.errors import DomainError


class ProfileView(SecuredBaseView):
    """The person's own settings: every signed-in person, for themselves only."""

    read_permission = None

    def is_visible(self) -> bool:
        """Reached from the account menu (templates/admin/master.html)."""
        return False

    @expose("/", methods=("GET", "POST"))
    def index(self):
        if request.method == "POST":
            try:
                kept, _language = profile.save(
                    db.session,
                    current_user,
                    timezone=request.form.get("timezone"),
                    language=request.form.get("language"),
                )
            except DomainError as refused:
                flash(refused.message, "error")
                return self._page(
                    chosen=request.form.get("timezone"),
                    language=request.form.get("language"),
                    status=400,
                )
            flash(
                gettext("Times are now shown in %(zone)s.", zone=kept)
                if kept
                else gettext(
                    "Times are now shown in the shop’s time zone (%(zone)s).", zone=shop_zone().key
                ),
                "success",
            )
            return redirect(url_for(".index"))
        return self._page(chosen=current_user.timezone, language=current_user.language)

    def _page(self, chosen: str | None, language: str | None, status: int = 200):
        body = self.render(
            "admin/profile.html",
            zones=known_zones(),
            chosen=chosen or "",
            shop_zone=current_app.config.get("SHOP_TIMEZONE") or shop_zone().key,
            languages=LANGUAGE_NAMES,
            language=known_language(language) or "",
        )
        return body, status
