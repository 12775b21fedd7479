"""The benchmark's floor: the console's pages answered with no framework at all.

A bare WSGI app, with no sign-in, no session, no template engine and no ORM, that
answers each page ``bench/run.py`` times from the same database with one indexed query
and prints the same rows as minimal HTML (or JSON, for the API list). It tells what the
machine can do on the run it is timed in, so that the console's budgets hold as ratios
on a noisy, shared machine. It is served by gunicorn with the console's worker count.

    DATABASE_URL=sqlite:///bench/.data/orders-10000.sqlite3 \\
        .venv/bin/gunicorn -k sync -w 2 --chdir bench floor:app

Pages (50 rows each, as the console's):

- ``/orders?page=N``, ``/orders?status=pending``, ``/orders?search=EMAIL``: the orders list;
- ``/orders/ID/edit``: an order's form with its lines;
- ``/orders/ID``: an order with its timeline (audit events);
- ``/stock/movements``: the newest stock movements;
- ``/api/orders``: the newest orders as JSON.
"""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

PAGE_SIZE = 50

_LIST = """
SELECT o.id, o.number, c.email, c.first_name, c.last_name, o.status, o.total, o.created_at, s.email
FROM sales_order o
JOIN customer c ON c.id = o.customer_id
LEFT JOIN staff_user s ON s.id = o.created_by_id
WHERE o.id IN (
    SELECT id FROM sales_order {where}
    ORDER BY created_at DESC, id DESC LIMIT {size} OFFSET %s
)
ORDER BY o.created_at DESC, o.id DESC
"""

_EDIT = """
SELECT o.number, o.status, o.version, c.email, l.id, l.quantity, p.sku, p.name
FROM sales_order o
JOIN customer c ON c.id = o.customer_id
LEFT JOIN order_line l ON l.order_id = o.id
LEFT JOIN product p ON p.id = l.product_id
WHERE o.id = %s
ORDER BY l.id
"""

_ORDER = """
SELECT o.number, o.status, o.total, c.email, a.at, a.action, a.actor_email
FROM sales_order o
JOIN customer c ON c.id = o.customer_id
LEFT JOIN audit_event a ON a.record_type = 'order' AND a.record_id = o.id
WHERE o.id = %s
ORDER BY a.at DESC
LIMIT 50
"""

_MOVEMENTS = f"""
SELECT m.created_at, p.sku, m.reason, m.quantity, m.balance_after, m.order_id, s.email, m.note
FROM stock_movement m
JOIN product p ON p.id = m.product_id
LEFT JOIN staff_user s ON s.id = m.actor_id
ORDER BY m.created_at DESC, m.id DESC
LIMIT {PAGE_SIZE}
"""

_API = f"""
SELECT o.id, o.number, o.status, o.total, o.created_at, c.email
FROM sales_order o JOIN customer c ON c.id = o.customer_id
ORDER BY o.id DESC
LIMIT {PAGE_SIZE}
"""


class Database:
    """One connection per worker process, opened on the first request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Any = None
        self.sqlite = url.startswith("sqlite")

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        if self.connection is None:
            if self.sqlite:
                self.connection = sqlite3.connect(self.url.split(":///", 1)[1])
            else:
                import psycopg

                self.connection = psycopg.connect(
                    re.sub(r"^postgresql\+\w+://", "postgresql://", self.url), autocommit=True
                )
        if self.sqlite:
            sql = sql.replace("%s", "?")
        return list(self.connection.execute(sql, params).fetchall())


DB = Database(os.environ.get("DATABASE_URL", "sqlite:///bench/.data/orders-10000.sqlite3"))


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, body: str) -> str:
    return f"<!doctype html><html><head><title>{_e(title)}</title></head><body>{body}</body></html>"


def orders(query: dict[str, list[str]]) -> str:
    page = int(query.get("page", ["0"])[0])
    params: list[Any] = []
    where = ""
    if "status" in query:
        where = "WHERE status = %s"
        params.append(query["status"][0])
    elif "search" in query:
        where = "WHERE customer_id IN (SELECT id FROM customer WHERE email = %s)"
        params.append(query["search"][0])
    sql = _LIST.format(where=where, size=PAGE_SIZE)
    rows = DB.rows(sql, *params, page * PAGE_SIZE)
    shown = [
        (number, f"{first} {last} <{email}>", status, f"{Decimal(total):,.2f}", created, staff)
        for _id, number, email, first, last, status, total, created, staff in rows
    ]
    headers = ("Order", "Customer", "Status", "Total", "Created", "Taken by")
    return _page("Orders", _table(headers, shown))


def edit(order_id: int) -> str:
    rows = DB.rows(_EDIT, order_id)
    if not rows:
        raise LookupError(order_id)
    number, status, version, email = rows[0][:4]
    lines = "".join(
        f'<p><input type="hidden" name="lines-{i}-id" value="{line_id}">'
        f"{_e(sku)} {_e(name)} "
        f'<input name="lines-{i}-quantity" value="{quantity}"></p>'
        for i, (*_, line_id, quantity, sku, name) in enumerate(rows)
        if line_id is not None
    )
    form = (
        f'<form method="post"><h1>Order {_e(number)} ({_e(status)})</h1>'
        f'<input type="hidden" name="version" value="{version}">'
        f'<input name="customer" value="{_e(email)}">{lines}<button>Save</button></form>'
    )
    return _page(f"Order {number}", form)


def order(order_id: int) -> str:
    rows = DB.rows(_ORDER, order_id)
    if not rows:
        raise LookupError(order_id)
    number, status, total, email = rows[0][:4]
    events = [(at, action, actor) for *_, at, action, actor in rows if at is not None]
    header = f"<h1>Order {_e(number)}</h1><p>{_e(status)} {_e(total)} {_e(email)}</p>"
    return _page(
        f"Order {number}", header + "<h2>Timeline</h2>" + _table(("When", "What", "Who"), events)
    )


def movements(query: dict[str, list[str]]) -> str:
    headers = ("When", "Product", "Reason", "Change", "Stock after", "Order", "Who", "Note")
    return _page("Stock movements", _table(headers, DB.rows(_MOVEMENTS)))


def api_orders(query: dict[str, list[str]]) -> str:
    data = [
        {
            "id": id_,
            "number": number,
            "status": status,
            "total": str(total),
            "created_at": str(created),
            "customer_email": email,
        }
        for id_, number, status, total, created, email in DB.rows(_API)
    ]
    return json.dumps({"data": data})


ROUTES: list[tuple[re.Pattern[str], Callable[..., str], str]] = [
    (re.compile(r"/orders/(\d+)/edit"), edit, "text/html"),
    (re.compile(r"/orders/(\d+)"), order, "text/html"),
]
LISTS: dict[str, tuple[Callable[[dict[str, list[str]]], str], str]] = {
    "/orders": (orders, "text/html"),
    "/stock/movements": (movements, "text/html"),
    "/api/orders": (api_orders, "application/json"),
}


def app(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        if path in LISTS:
            handler, kind = LISTS[path]
            text = handler(query)
        else:
            for pattern, view, route_kind in ROUTES:
                match = pattern.fullmatch(path)
                if match:
                    text, kind = view(int(match.group(1))), route_kind
                    break
            else:
                raise LookupError(path)
    except LookupError:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = text.encode()
    start_response(
        "200 OK", [("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
