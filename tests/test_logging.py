"""Logging: one dictConfig, request ids in records and responses, JSON lines on demand."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from flask import current_app

from console.logs import REQUEST_ID_HEADER, logging_config
from tests.fixtures.apps import from_fixture


def test_each_response_carries_a_request_id(client):
    first = client.get("/status").headers[REQUEST_ID_HEADER]
    second = client.get("/status").headers[REQUEST_ID_HEADER]
    assert first and second and first != second


@pytest.mark.settings(PROXY_COUNT=1)
def test_a_proxy_request_id_is_kept_but_junk_is_replaced(client):
    kept = client.get("/status", headers={REQUEST_ID_HEADER: "lb-0123456789abcdef"})
    assert kept.headers[REQUEST_ID_HEADER] == "lb-0123456789abcdef"
    junk = client.get("/status", headers={REQUEST_ID_HEADER: "evil line <script>"})
    assert junk.headers[REQUEST_ID_HEADER] != "evil line <script>"
    assert junk.headers[REQUEST_ID_HEADER].isalnum()


@pytest.mark.settings(LOG_FORMAT="json", PROXY_COUNT=1)
def test_json_log_lines_carry_the_request_id(app):
    config = logging_config(app)
    stream = io.StringIO()
    config["handlers"]["stream"]["stream"] = stream
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        with app.test_request_context("/", headers={REQUEST_ID_HEADER: "req-1234567890"}):
            app.preprocess_request()
            current_app.logger.warning("order %s approved", "SO-000001")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["message"] == "order SO-000001 approved"
    assert record["request_id"] == "req-1234567890"
    assert record["level"] == "WARNING"


@pytest.fixture
def log_file(tmp_path) -> str:
    return str(tmp_path / "console.log")


@pytest.mark.settings(LOG_FILE=from_fixture("log_file"))
def test_rotating_file_is_added_when_configured(app, log_file):
    config = logging_config(app)
    assert config["handlers"]["file"]["class"] == "logging.handlers.RotatingFileHandler"
    assert set(config["root"]["handlers"]) == {"stream", "file"}
