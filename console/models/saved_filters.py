"""Lists as a person likes to see them: a list's filters, search and sort under a name."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from console.database import Model
from console.models.base import utcnow

MAX_NAME_LENGTH = 80
MAX_QUERY_LENGTH = 2000


class SavedFilter(Model):
    """One person's saved view of one list (``console.services.saved_filters``).

    It keeps the list's query string as it was when saved (filters, search, sort, page
    size; never the page number), and is checked against the list again each time it
    is opened: a list whose filters have changed since opens unfiltered, with a message.
    Personal settings, not records of the shop: not audited.
    """

    __tablename__ = "saved_filter"
    __table_args__ = (
        UniqueConstraint("owner_id", "endpoint", "name"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    """The person who saved it; nobody else sees or opens it."""
    endpoint: Mapped[str] = mapped_column(String(80))
    """The list's view (``order``, ``pending_order``)."""
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    list_query: Mapped[str] = mapped_column(String(MAX_QUERY_LENGTH))
    """The list's query string, without ``page``."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
