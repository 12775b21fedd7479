"""axe-core in Chromium: no serious or critical accessibility violation on the console.

Signed in as an admin, in English and in German, every page a person opens is audited
at a desktop width (1366 px) and on a phone (390 px): the dashboard, every list of the registry
(``console.admin.registry``, so that a new view is audited without editing this
file), its create and edit forms when the admin is offered them, the order page, the
role page, the sign-in and password-reset pages and the 404 page. axe-core comes with
``axe-playwright-python``; nothing is fetched at run time.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask_admin.model import BaseModelView
from playwright.sync_api import expect
from sqlalchemy import select

from console.admin.registry import registered_views
from console.database import db
from console.models import Role
from tests.factories import OrderFactory, PromotionFactory, StaffFactory
from tests.pricing_support import priced_shop
from tests.test_journeys import sign_in

pytestmark = pytest.mark.postgres

WIDTHS = (1366, 390)
BLOCKING = {"serious", "critical"}
NOT_PAGES = {"keepalive"}
"""Views answering scripts with JSON, never a page."""


def audited_paths(app, page) -> list[str]:
    """The pages to audit, found from the registry and from the links the admin sees."""
    paths = ["/admin/"]
    for view in registered_views(app):
        if view.endpoint in NOT_PAGES or view.endpoint == "admin":
            continue
        index = f"{view.url}/"
        paths.append(index)
        if not isinstance(view, BaseModelView):
            continue
        page.goto(index)
        for link in ("a[href*='/new/']", "a[href*='/edit/']", "a[href*='/details/']"):
            found = page.locator(link)
            if found.count():
                href = found.first.get_attribute("href")
                if href and href not in paths:
                    paths.append(href)
    return paths


def serious(results) -> list[str]:
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:5])
        + f" [{violation['nodes'][0].get('failureSummary', '')[:300]}]"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.parametrize(("locale", "language"), [("en-US", "en"), ("de-DE", "de")])
def test_no_serious_violation_on_any_page(app, live_server, browser, screenshot, locale, language):
    """Every page, in English and for a browser asking for German (longer words, other
    labels, the page's language declared as German)."""
    shop = priced_shop()
    OrderFactory(customer=shop["ada"], lines={shop["kettle"]: 1})
    PromotionFactory(code="SPRING10")
    StaffFactory(email="admin@staff.test", role="admin")
    role = db.session.scalar(select(Role).where(Role.name == "manager"))

    axe = Axe()
    context = browser.new_context(
        base_url=live_server, locale=locale, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    found: dict[str, list[str]] = {}

    def audit(path: str) -> None:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(path)
            assert page.locator("html").get_attribute("lang") == language, path
            problems = serious(axe.run(page))
            if problems:
                found[f"{path} at {width} px"] = problems

    try:
        audit("/login")
        audit("/reset")  # the other sign-in page a person opens signed out
        sign_in(page, "admin")
        paths = audited_paths(app, page)
        paths.append(f"/admin/role/edit/?id={role.id}")
        paths.append("/admin/no-such-page/")
        for path in paths:
            audit(path)
        screenshot(page, f"last-audited-{language}")
        page.goto("/admin/order/")
        expect(page.locator("nav")).to_contain_text(
            "Bestellungen" if language == "de" else "Orders"
        )
    finally:
        context.close()
    assert any("/admin/order/details/" in path for path in paths), paths
    assert any("/admin/customer/new/" in path for path in paths), paths
    report = "\n".join(f"{where}:\n  " + "\n  ".join(problems) for where, problems in found.items())
    assert not found, f"axe-core found serious or critical violations ({locale}):\n{report}"
