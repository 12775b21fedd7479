/*
 * The pending queue by keyboard (templates/admin/order/_queue.html).
 *
 * On the pending list, j and k move between the orders (the focus goes to each row's
 * "View" link, so Enter opens it). On a pending order's page, j and k follow the
 * queue's next and previous links, a presses Approve, r moves to the rejection reason
 * (Enter then sends it) and b goes back to the list. ? opens the help, Esc closes it.
 * No key acts while the person types in a field, nor with Ctrl, Alt or Meta held, so
 * the browser's and the screen reader's own shortcuts keep working.
 */
(function () {
  "use strict";

  var help = document.getElementById("queue-help");
  if (!help) {
    return;
  }
  var opener = document.getElementById("queue-help-open");

  function showHelp() {
    if (!help.open) {
      help.showModal();
    }
  }
  opener.addEventListener("click", showHelp);

  function typing(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || target.closest("input, textarea, select") !== null)
    );
  }

  function rowLinks() {
    return Array.prototype.slice.call(
      document.querySelectorAll(".model-list tbody td.list-buttons-column a[href*='/details/']")
    );
  }

  function moveInList(step) {
    var links = rowLinks();
    if (links.length === 0) {
      return;
    }
    var at = links.indexOf(document.activeElement);
    var next = at === -1 ? (step > 0 ? 0 : links.length - 1) : at + step;
    next = Math.max(0, Math.min(links.length - 1, next));
    links[next].focus();
    links[next].closest("tr").scrollIntoView({ block: "nearest" });
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (link) {
      window.location.assign(link.href);
    }
  }

  var actions = {
    "?": showHelp,
    j: function () {
      if (document.getElementById("queue-next") || document.getElementById("queue-previous")) {
        follow("#queue-next");
      } else {
        moveInList(1);
      }
    },
    k: function () {
      if (document.getElementById("queue-next") || document.getElementById("queue-previous")) {
        follow("#queue-previous");
      } else {
        moveInList(-1);
      }
    },
    a: function () {
      var approve = document.querySelector("#transition-approve button[type=submit]");
      if (approve && !approve.disabled) {
        approve.click();
      }
    },
    r: function () {
      var reason = document.getElementById("reject-reason");
      if (reason) {
        reason.focus();
      }
    },
    b: function () {
      follow("#back-to-list");
    },
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) {
      return;
    }
    if (help.open || typing(event.target)) {
      return;
    }
    var action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
})();
