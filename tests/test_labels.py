"""A stored word's label (``console.models.base.label_of``) reads in the page's language,
and is translated once per process and language: a list shows one on every row."""

from __future__ import annotations

from flask_babel import LazyString, force_locale

from console.models import OrderStatus
from console.models.base import label_of
from tests.helpers import record_calls


def test_labels_are_in_the_language_being_written(app):
    with app.test_request_context("/"):
        with force_locale("de_DE"):
            assert label_of(OrderStatus, "pending") == "Offen"
        with force_locale("fr_FR"):
            assert label_of(OrderStatus, "pending") == "En attente"
        with force_locale("en"):
            assert label_of(OrderStatus, "pending") == "Pending"
        with force_locale("de_DE"):
            assert label_of(OrderStatus, "approved") == "Genehmigt"
        assert label_of(OrderStatus, "archived") == "archived"  # a word outside the vocabulary
        assert label_of(OrderStatus, None) == ""


def test_a_label_is_translated_once_per_language(app, monkeypatch):
    translated = record_calls(monkeypatch, LazyString, "__str__")
    with app.test_request_context("/"), force_locale("de_DE"):
        words = {label_of(OrderStatus, "shipped") for _ in range(50)}
    with app.test_request_context("/"), force_locale("fr_FR"):
        words |= {label_of(OrderStatus, "shipped") for _ in range(50)}
    assert len(words) == 2  # German and French
    assert len(translated) <= 2
