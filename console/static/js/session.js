/*
 * The idle timeout, as the person sees it (the server decides: console.security.sessions).
 *
 * - Warns some time before the session ends without activity (2 minutes, or a quarter
 *   of a shorter timeout), with a "Stay signed in" button that extends the session.
 * - Keeps the session alive while the person types, clicks or changes fields in a form:
 *   a POST to the keep-alive address, at most once every quarter of the timeout (later
 *   activity in that quarter is sent at its end).
 * - Says so once the session has ended. A form's entries are not lost then: posting it
 *   leads to the sign-in page, and signing in brings the entries back into the form.
 *
 * Before warning it asks the keep-alive address by GET how long is left (another tab
 * may have kept the session alive); that question is no activity on the server, so an
 * unattended page never keeps itself signed in. Settings come from the data- attributes
 * of #session-notice (templates/admin/master.html); no inline script (CSP).
 */
(function () {
  "use strict";

  var holder = document.getElementById("session-notice");
  if (!holder || !window.fetch) {
    return;
  }
  var timeout = Number(holder.dataset.idleTimeoutSeconds);
  var url = holder.dataset.keepaliveUrl;
  if (!(timeout > 0) || !url) {
    return;
  }

  var warnBefore = Math.min(120, timeout / 4); // seconds before the end to warn
  var every = timeout / 4; // seconds between two keep-alive calls, at most one
  var deadline = Date.now() + timeout * 1000; // loading this page was activity
  var lastSent = Date.now();
  var timer = null;
  var deferred = null;
  var warning = false;
  var ended = false;

  function inWords(seconds) {
    var whole = Math.max(0, Math.round(seconds));
    if (whole < 90) {
      return consolePlural("session.seconds", whole, { count: whole });
    }
    var minutes = Math.round(whole / 60);
    return consolePlural("session.minutes", minutes, { count: minutes });
  }

  // The seconds the session has left; null once it has ended; undefined when unknown
  // (the console did not answer), in which case the local estimate stands.
  function ask(method) {
    var headers = { Accept: "application/json" };
    if (method === "POST") {
      headers["X-CSRFToken"] = holder.dataset.csrfToken || "";
    }
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (response.status === 401) {
          return null;
        }
        if (!response.ok) {
          return undefined;
        }
        return response.json().then(function (body) {
          return Number(body.seconds_left);
        });
      })
      .catch(function () {
        return undefined;
      });
  }

  function schedule(at) {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, Math.max(1000, at - Date.now()));
  }

  function settle(left) {
    if (ended) {
      return;
    }
    if (left === null) {
      showEnded();
      return;
    }
    if (typeof left === "number" && !isNaN(left)) {
      deadline = Date.now() + left * 1000;
    }
    var remaining = (deadline - Date.now()) / 1000;
    if (remaining > warnBefore) {
      hide();
      schedule(deadline - warnBefore * 1000);
    } else {
      showWarning(remaining);
      // Again just past the end (to say it has ended), or sooner to update the count.
      schedule(Math.min(deadline + 1000, Date.now() + 30000));
    }
  }

  function check() {
    ask("GET").then(settle);
  }

  function keepAlive() {
    lastSent = Date.now();
    window.clearTimeout(deferred);
    deferred = null;
    ask("POST").then(settle);
  }

  function onActivity(event) {
    if (ended) {
      return;
    }
    var target = event.target;
    var form = target && target.closest ? target.closest("form") : null;
    if (!form || form.dataset.sessionActivity === "ignore") {
      return;
    }
    if (event.type === "click" && target.closest('button[type="submit"], input[type="submit"]')) {
      return; // the form is being sent: that request is the activity
    }
    if (warning || Date.now() - lastSent >= every * 1000) {
      keepAlive();
    } else if (deferred === null) {
      deferred = window.setTimeout(keepAlive, lastSent + every * 1000 - Date.now());
    }
  }

  function show(kind, parts) {
    holder.textContent = "";
    var box = document.createElement("div");
    box.className = ["alert", kind, "shadow", "mb-0"].join(" ");
    box.setAttribute("role", "alert");
    parts.forEach(function (part) {
      box.appendChild(part);
    });
    holder.appendChild(box);
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }

  function showWarning(remaining) {
    var text = consoleText("session.warning", { time: inWords(remaining) });
    if (warning) {
      holder.querySelector(".session-notice-text").textContent = text;
      return;
    }
    warning = true;
    var button = element("button", "btn btn-primary btn-sm ml-2 session-stay", consoleText("session.stay"));
    button.type = "button";
    button.addEventListener("click", keepAlive);
    show("alert-warning", [element("span", "session-notice-text", text), button]);
  }

  function hide() {
    warning = false;
    holder.textContent = "";
  }

  function showEnded() {
    ended = true;
    warning = false;
    window.clearTimeout(timer);
    window.clearTimeout(deferred);
    if (document.querySelector("form.admin-form")) {
      show("alert-danger", [
        element("span", "session-notice-text", consoleText("session.ended_in_form")),
      ]);
      return;
    }
    var link = element("a", "alert-link ml-1", consoleText("session.sign_in_again"));
    link.href =
      (holder.dataset.loginUrl || "/login") +
      "?next=" +
      encodeURIComponent(window.location.pathname + window.location.search);
    show("alert-danger", [
      element("span", "session-notice-text", consoleText("session.ended")),
      link,
    ]);
  }

  ["input", "change", "keydown", "click"].forEach(function (type) {
    document.addEventListener(type, onActivity, true);
  });

  // A page shown again from the browser's cache (Back button) asks how things stand.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !ended) {
      check();
    }
  });

  schedule(deadline - warnBefore * 1000);
})();
