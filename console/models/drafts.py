"""Forms whose session ended before they were saved, kept until their person signs in again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model
from console.models.base import utcnow


class FormDraft(Model):
    """The fields of a form posted just after its session ended (idle timeout, session
    ended on the server), so that signing in again brings them back into the form.

    Never a stand-in for the save itself: the entries go back into the form, and
    nothing is written until the person presses Save. A draft belongs to the person
    whose session ended, is taken back once (the row is deleted then) and expires
    (``expires_at``). Secrets are never kept: fields named like a password, secret,
    token or CSRF token are left out (``console.services.drafts.kept_fields``).
    """

    __tablename__ = "form_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the random key the sign-in's return address carries."""
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    """The person whose session ended; nobody else gets the entries back."""
    endpoint: Mapped[str] = mapped_column(String(80))
    """The form's endpoint (``order.create_view``)."""
    record_id: Mapped[str | None] = mapped_column(String(40))
    """The record an edit form was for (its ``id`` argument); None for a create form."""
    fields: Mapped[list[list[str]]] = mapped_column(JSON)
    """The posted fields as ``[name, value]`` pairs, in the order they came."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
