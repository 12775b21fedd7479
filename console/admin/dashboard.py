"""The home page at ``/admin/``: each person sees the widgets their permissions allow."""

from __future__ import annotations

from flask import current_app, url_for
from flask_admin import expose
from flask_babel import format_date, gettext, ngettext
from flask_login import current_user

from console.admin.base import SecuredIndexView
from console.admin.formatters import format_money
from console.database import db
from console.localtime import person_zone, to_local
from console.models.base import utcnow
from console.permissions import ORDERS_APPROVE, ORDERS_READ, PRODUCTS_READ, STAFF_MANAGE, can
from console.services import dashboard, webhooks

CHART_WIDTH, CHART_HEIGHT = 600, 160


class DashboardView(SecuredIndexView):
    """Pending approvals, the last 30 days' sales, low stock and the person's own work."""

    @expose("/")
    def index(self):
        now = utcnow()
        context: dict = {"now": now}
        if can(ORDERS_READ):
            pending = dashboard.pending_summary(db.session)
            context["pending"] = pending
            context["pending_age"] = _age(pending.oldest_age(now))
            context["can_approve"] = can(ORDERS_APPROVE)
            # Approvers get their work list (oldest first); others the filtered order list.
            context["pending_url"] = (
                url_for("pending_order.index_view")
                if context["can_approve"]
                else url_for("order.index_view", flt0_0="pending")
            )
            zone = person_zone()
            sales = dashboard.sales_by_day(
                db.session, days=30, today=to_local(now, zone).date(), zone=zone
            )
            context["sales"] = sales
            context["sales_total"] = format_money(sum((d.revenue for d in sales), start=0))
            context["orders_total"] = sum(d.orders for d in sales)
            context["chart"] = _bar_chart(sales)
            context["my_orders"] = dashboard.recent_orders_of(db.session, current_user)
        context["my_activity"] = dashboard.recent_activity_of(db.session, current_user)
        if can(PRODUCTS_READ):
            threshold = current_app.config["LOW_STOCK_THRESHOLD"]
            context["low_stock_threshold"] = threshold
            context["low_stock"] = dashboard.low_stock(db.session, threshold)
        if can(STAFF_MANAGE):
            context["disabled_webhooks"] = webhooks.disabled_endpoints(db.session)
        return self.render("admin/index.html", **context)


def _age(delta) -> str | None:
    """A duration as a person says it: "3 days", "5 hours", "12 minutes"."""
    if delta is None:
        return None
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return ngettext("%(num)s day", "%(num)s days", seconds // 86400)
    if seconds >= 3600:
        return ngettext("%(num)s hour", "%(num)s hours", seconds // 3600)
    if seconds >= 60:
        return ngettext("%(num)s minute", "%(num)s minutes", seconds // 60)
    return gettext("less than a minute")


def _bar_chart(sales: list[dashboard.DaySales]) -> dict:
    """Bars of the daily revenue, as coordinates for the server-side SVG in the template."""
    peak = max((d.revenue for d in sales), default=0) or 1
    slot = CHART_WIDTH / max(len(sales), 1)
    bars = []
    for i, day in enumerate(sales):
        height = float(day.revenue) / float(peak) * (CHART_HEIGHT - 20)
        bars.append(
            {
                "x": round(i * slot + 1, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(max(slot - 2, 1), 1),
                "height": round(height, 1),
                "label": ngettext(
                    "%(day)s: %(num)s order, %(revenue)s",
                    "%(day)s: %(num)s orders, %(revenue)s",
                    day.orders,
                    day=format_date(day.day, "dd MMM"),
                    revenue=format_money(day.revenue),
                ),
            }
        )
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "bars": bars, "peak": format_money(peak)}
