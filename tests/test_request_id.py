"""One id per request: its response header, its log lines and its audit events agree."""

from __future__ import annotations

import logging

import pytest

from console.logs import REQUEST_ID_HEADER, RequestIdFilter
from tests.audit_support import events, open_form, signed_in
from tests.factories import CustomerFactory

PROXY_ID = "lb-" + "0123456789" * 10  # 103 characters, the shape a load balancer sends


@pytest.mark.settings(PROXY_COUNT=1)  # ids are taken from trusted proxies only
@pytest.mark.parametrize("sent", [None, PROXY_ID], ids=["made-here", "from-proxy"])
def test_an_audited_change_carries_the_id_of_its_response_and_its_log_lines(app, caplog, sent):
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"
    clerk = signed_in(app, "clerk")
    form = open_form(clerk, url)
    form["phone"] = "+33 6 11"
    # What the production logging config does to its handlers (tests keep pytest's).
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.DEBUG, logger="console.audit")
    caplog.clear()

    response = clerk.post(url, data=form, headers={REQUEST_ID_HEADER: sent} if sent else {})

    assert response.status_code == 302
    answered = response.headers[REQUEST_ID_HEADER]
    if sent:
        assert answered == sent
    [event] = events(record_type="customer", action="update")
    assert event.changes == {"phone": [None, "+33 6 11"]}
    assert event.request_id == answered
    logged = {r.request_id for r in caplog.records if r.name.startswith("console.audit")}
    assert logged == {answered}


def test_each_request_has_its_own_id_in_the_trail(app):
    customer = CustomerFactory()
    url = f"/admin/customer/edit/?id={customer.id}"
    clerk = signed_in(app, "clerk")
    answered = []
    for phone in ("+33 6 11", "+33 6 22"):
        form = open_form(clerk, url)
        form["phone"] = phone
        answered.append(clerk.post(url, data=form).headers[REQUEST_ID_HEADER])
    stored = [e.request_id for e in events(record_type="customer", action="update")]
    assert stored == answered and answered[0] != answered[1]


def test_outside_a_request_events_have_no_request_id(app):
    CustomerFactory()
    [event] = events(record_type="customer")
    assert event.request_id is None and event.client_addr is None
