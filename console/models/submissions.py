"""One-time tokens of create forms, recorded when a form is submitted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model
from console.models.base import utcnow


class FormSubmission(Model):
    """A create form that was submitted, and the record it made.

    The token is issued with the form (a hidden field); its row is inserted in the
    transaction that creates the record, so a second submission of the same form (a
    double click, a resent request, a second tab) meets the primary key and creates
    nothing.
    """

    __tablename__ = "form_submission"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
