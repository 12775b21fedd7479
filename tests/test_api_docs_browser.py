"""The API's docs page in Chromium: Swagger UI runs under the console's CSP, offline.

Every request the page makes goes to the console itself (no CDN), none is refused by
the Content-Security-Policy, and Swagger UI renders the operations of the document.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.postgres


def test_swagger_ui_renders_the_document_from_local_files(browser, live_server):
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        page.goto("/api/v1/docs")
        expect(
            page.locator(".opblock-summary-path", has_text="/api/v1/orders").first
        ).to_be_visible(timeout=20_000)
        expect(page.locator(".info .title")).to_contain_text("Back-office console API")
    finally:
        context.close()
    assert requested and all(url.startswith(live_server) for url in requested), requested
    assert not refused, refused
