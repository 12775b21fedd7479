"""In Chromium: the console uses the screen, and shows where the keyboard is.

- On a 1920 px screen the pages take the width (not a 1140 px column in the middle),
  and the audit trail's "Changes" column is shown whole, without sideways scrolling.
- At 1366 px the main menu of an admin and of a manager is one line (the account's
  links fold under the e-mail address).
- Links, buttons and fields reached with the Tab key show a visible focus outline.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory, OrderFactory, ProductFactory, StaffFactory
from tests.test_journeys import sign_in

pytestmark = pytest.mark.postgres


@pytest.fixture
def admin_page(app, browser, live_server):
    """A browser page signed in as an admin, with a few orders (and their audit trail)."""
    StaffFactory(email="admin@staff.test", role="admin")
    for number in range(3):
        product = ProductFactory(
            sku=f"AUDIT-{number}", name=f"Long product name for the audit trail {number}"
        )
        OrderFactory(
            customer=CustomerFactory(email=f"buyer{number}@example.com"),
            lines={product: number + 1},
        )
    context = browser.new_context(base_url=live_server, viewport={"width": 1920, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, "admin")
    yield page
    context.close()


def test_wide_screen_pages_use_the_width(admin_page, screenshot):
    page = admin_page
    page.goto("/admin/audit/")
    screenshot(page, "audit-1920")
    measures = page.evaluate(
        """() => {
            const frame = document.querySelector("body > .container, body > .container-fluid");
            const viewport = document.documentElement.clientWidth;
            const cells = [...document.querySelectorAll("td.col-changes")];
            return {
                viewport,
                frame: frame.getBoundingClientRect().width,
                scroll: document.documentElement.scrollWidth,
                cells: cells.length,
                cut: cells.filter(cell => cell.getBoundingClientRect().right > viewport
                                  || cell.scrollWidth > cell.clientWidth + 1).length,
            };
        }"""
    )
    assert measures["frame"] >= 0.95 * measures["viewport"], measures
    assert measures["cells"] > 0, measures
    assert measures["cut"] == 0, measures
    assert measures["scroll"] <= measures["viewport"], measures


FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    return {tag: element.tagName, type: element.type || "", style: style.outlineStyle,
            width: parseFloat(style.outlineWidth)};
}"""


def test_keyboard_focus_is_visible_on_links_buttons_and_fields(admin_page):
    page = admin_page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/admin/customer/new/")
    seen: dict[str, dict] = {}
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        kind = {"A": "link", "BUTTON": "button", "INPUT": "field"}.get(focused["tag"])
        if focused["tag"] == "INPUT" and focused["type"] == "submit":
            kind = "button"
        if kind and kind not in seen:
            seen[kind] = focused
        if len(seen) == 3:
            break
    assert set(seen) == {"link", "button", "field"}, seen
    for kind, focused in seen.items():
        assert focused["style"] not in ("none", "auto"), (kind, focused)
        assert focused["width"] >= 2, (kind, focused)


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_main_menu_is_one_line_at_1366(app, browser, live_server, role, screenshot):
    StaffFactory(email=f"{role}@staff.test", role=role)
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, role)
        screenshot(page, f"menu-{role}")
        tops = page.evaluate(
            """() => [...document.querySelectorAll("nav.navbar .navbar-nav > li")]
                .filter(item => item.offsetParent !== null)
                .map(item => Math.round(item.getBoundingClientRect().top))"""
        )
        height = page.locator("nav.navbar").bounding_box()["height"]
        page.click("#account-menu")
        expect(page.get_by_role("link", name="Change password")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/login**")
    finally:
        context.close()
    assert len(tops) > 5, tops
    assert max(tops) - min(tops) <= 8, tops
    assert height <= 70, height


NUMBER = r"^-?€?\d[\d,]*(\.\d+)?\s*(%|[A-Z]{3})?$"
LISTS = ("order", "product", "promotion", "shipping_method", "tax_rate", "audit")


def test_numbers_in_lists_are_right_aligned_on_one_line(admin_page):
    from tests.pricing_support import priced_shop

    priced_shop()
    page = admin_page
    misplaced: dict[str, list] = {}
    checked = 0
    for endpoint in LISTS:
        page.goto(f"/admin/{endpoint}/")
        cells = page.evaluate(
            """pattern => [...document.querySelectorAll("table.model-list td[class*='col-']")]
                .filter(cell => new RegExp(pattern).test(cell.innerText.trim()))
                .map(cell => ({column: cell.className, text: cell.innerText.trim(),
                               align: getComputedStyle(cell).textAlign,
                               wrap: getComputedStyle(cell).whiteSpace}))""",
            NUMBER,
        )
        checked += len(cells)
        wrong = [c for c in cells if c["align"] not in ("right", "end") or c["wrap"] != "nowrap"]
        if wrong:
            misplaced[endpoint] = wrong[:3]
    assert checked > 10, checked
    assert not misplaced, misplaced


def test_every_list_with_a_status_shows_it_as_a_badge_with_its_word(admin_page):
    """The orders of ``admin_page`` have queued their e-mails: each list has rows."""
    page = admin_page
    plain: dict[str, list] = {}
    seen = 0
    for endpoint in ("order", "pending", "notification"):
        page.goto(f"/admin/{endpoint}/")
        cells = page.evaluate(
            """() => [...document.querySelectorAll("table.model-list td.col-status")]
                .map(cell => {
                    const badge = cell.querySelector(".badge");
                    return {text: cell.innerText.trim(),
                            badge: badge ? badge.innerText.trim() : "",
                            colour: badge ? getComputedStyle(badge).backgroundColor : ""};
                })"""
        )
        seen += len(cells)
        wrong = [
            c
            for c in cells
            if not c["badge"] or c["colour"] in ("", "rgba(0, 0, 0, 0)", "transparent")
        ]
        if not cells or wrong:
            plain[endpoint] = wrong[:3] or ["no status cell"]
    assert not plain, plain


def test_pending_orders_are_approved_on_a_phone_without_sideways_scrolling(
    app, browser, live_server
):
    from sqlalchemy import select

    from console.database import db
    from console.models import Order

    StaffFactory(email="manager@staff.test", role="manager")
    product = ProductFactory(sku="PHONE-1", name="Kettle with a rather long product name")
    order = OrderFactory(
        customer=CustomerFactory(email="a.very.long.address.indeed@example.com"),
        lines={product: 2},
    )
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "manager")
        page.goto("/admin/pending/")
        widths = page.evaluate(
            """() => ({page: document.documentElement.scrollWidth,
                       viewport: document.documentElement.clientWidth})"""
        )
        assert widths["page"] <= widths["viewport"], widths
        box = page.locator("input.action-checkbox").first
        assert box.bounding_box()["x"] + box.bounding_box()["width"] <= 390
        box.check()
        page.get_by_role("button", name="With selected").click()
        approve = page.get_by_role("link", name="Approve")
        assert approve.bounding_box()["x"] + approve.bounding_box()["width"] <= 390
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            approve.click()
    finally:
        context.close()
    db.session.expire_all()
    assert db.session.scalar(select(Order.status).where(Order.id == order.id)) == "approved"


@pytest.mark.parametrize("width", [1366, 390])
def test_role_permissions_by_area_name_and_description_all_clickable(
    app, admin_page, width, screenshot
):
    from sqlalchemy import select

    from console.database import db
    from console.models import Role
    from console.permissions import ALL_PERMISSIONS, PERMISSION_INFO

    assert set(PERMISSION_INFO) == set(ALL_PERMISSIONS)
    role = db.session.scalar(select(Role).where(Role.name == "viewer"))
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/admin/role/edit/?id={role.id}")
    screenshot(page, f"role-{width}")
    legends = page.locator(".permission-area legend").all_inner_texts()
    assert legends == list(dict.fromkeys(area for area, _, _ in PERMISSION_INFO.values()))
    before = set(role.get_permissions())
    for code in ALL_PERMISSIONS:
        _area, name, description = PERMISSION_INFO[code]
        box = page.get_by_role("checkbox", name=name)
        label = page.locator(f"label[for='{box.get_attribute('id')}']")
        expect(label).to_contain_text(description)
        frame = label.bounding_box()
        assert frame["x"] >= 0 and frame["x"] + frame["width"] <= width, (code, frame)
        checked = box.is_checked()
        label.click()
        expect(box).to_be_checked(checked=not checked)
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/admin/role/**")
    db.session.expire_all()
    role = db.session.get(Role, role.id)
    assert set(role.get_permissions()) == set(ALL_PERMISSIONS) - before
