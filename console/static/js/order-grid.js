/*
 * The order form's line grid (templates/admin/order/_line_grid.html): lines added and
 * removed from the keyboard, and the figures of the order as the server computes them.
 *
 * Whenever the customer, a line, the code or the shipping method changes, the form's
 * state is posted (debounced) to the preview endpoint (POST /admin/order/preview, the
 * same pricing as the save) and its answer is written into the grid: each line's unit
 * price, tax rate, line total and stock with its flags (short stock, inactive product),
 * then the subtotal, discount, shipping, tax per rate and total. Only the server's
 * strings are shown; nothing is computed here. The preview's messages are shown under
 * their fields (an unknown code under the code).
 *
 * Keys: Alt+N, or Enter in the last line's quantity, adds a line and opens its product
 * search; Enter in another quantity goes to the next line's quantity; Alt+Delete (or
 * Alt+Backspace) removes the line the focus is in; each line's Remove control is
 * reachable with Tab. A stored line is removed by ticking its Remove box (the server
 * deletes it on save), a new one is taken out of the form.
 *
 * The inputs keep Flask-Admin's names, so the form saves the same without this script.
 */
(function () {
  "use strict";

  var DELAY_MS = 300;
  var PRICING_FIELDS = ["customer", "coupon_code", "shipping_method"];
  var LINE_ERROR = /^lines-(\d+)(?:-(\w+))?$/;

  function start() {
    var entry = document.getElementById("order-entry");
    var grid = entry ? entry.querySelector(".order-grid") : null;
    if (!grid) {
      return;
    }
    var $ = window.jQuery;
    var form = grid.closest("form");
    var list = grid.querySelector(".inline-field-list");
    var addButton = grid.querySelector(".order-grid-add-button");
    var totalsBox = grid.querySelector("#order-grid-totals");
    totalsBox.hidden = false;
    var status = grid.querySelector("#order-grid-status");
    var linesErrors = grid.querySelector(".order-grid-errors");
    var sequence = 0;
    var timer = null;
    var pricedOnce = false; // once priced, an order emptied of lines is priced too (and refused)

    function rows() {
      return Array.prototype.filter.call(list.children, function (row) {
        return row.classList.contains("inline-field");
      });
    }

    function input(row, name) {
      return document.getElementById(row.id + "-" + name);
    }

    function removed(row) {
      var box = row.querySelector(".order-line-delete");
      return box !== null && box.checked;
    }

    function liveRows() {
      return rows().filter(function (row) { return !removed(row); });
    }

    function whole(text) {
      text = String(text || "").trim();
      return /^[0-9]+$/.test(text) ? parseInt(text, 10) : null;
    }

    // --- adding and removing lines -------------------------------------------------

    // ``search``: open the product search at once (a line added from the keyboard);
    // otherwise only put the focus on the picker (a click, whose next click opens it).
    function focusProduct(row, search) {
      var product = input(row, "product");
      if (product && $ && $(product).data("select2")) {
        $(product).select2(search ? "open" : "focus");
      } else if (product) {
        product.focus();
      }
    }

    function addLine(search) {
      window.faForm.addInlineField(addButton, grid.dataset.gridName);
      var row = rows()[rows().length - 1];
      // Flask-Admin renames the new line's inputs, not the labels that point at them.
      row.querySelectorAll("label[for]").forEach(function (label) {
        label.htmlFor = row.id + "-" + label.htmlFor;
      });
      focusProduct(row, search);
      return row;
    }

    function focusAfterRemoving(row) {
      var others = liveRows().filter(function (other) { return other !== row; });
      var after = others.filter(function (other) {
        return row.compareDocumentPosition(other) & Node.DOCUMENT_POSITION_FOLLOWING;
      });
      var next = after.length ? after[0] : others[others.length - 1];
      var target = next ? input(next, "quantity") : addButton;
      (target || addButton).focus();
    }

    function removeLine(row) {
      var box = row.querySelector(".order-line-delete");
      focusAfterRemoving(row);
      if (box) {
        box.checked = true;
        row.classList.add("order-line-removed");
      } else {
        row.remove();
      }
      schedule(0);
    }

    addButton.addEventListener("click", function (event) {
      addLine(event.detail === 0); // 0: pressed with Enter or Space, not clicked
    });

    grid.addEventListener("click", function (event) {
      var button = event.target.closest(".order-line-remove");
      if (button) {
        removeLine(button.closest(".order-line"));
      }
    });

    document.addEventListener("keydown", function (event) {
      var row = event.target.closest ? event.target.closest(".order-line") : null;
      // The letter N (or the key where N sits: Option+N types a character on a Mac).
      var isN = String(event.key).toLowerCase() === "n" || event.code === "KeyN";
      if (event.altKey && !event.ctrlKey && !event.metaKey && isN) {
        event.preventDefault();
        addLine(true);
      } else if (event.altKey && row && grid.contains(row) &&
                 (event.key === "Delete" || event.key === "Backspace")) {
        event.preventDefault();
        removeLine(row);
      } else if (event.key === "Enter" && row && grid.contains(row) &&
                 event.target === input(row, "quantity")) {
        // Enter would send the whole form from here: move on in the grid instead.
        event.preventDefault();
        var live = liveRows();
        var next = live[live.indexOf(row) + 1];
        if (next) {
          input(next, "quantity").focus();
        } else {
          addLine(true);
        }
      }
    });

    grid.addEventListener("change", function (event) {
      if (event.target.classList.contains("order-line-delete")) {
        var row = event.target.closest(".order-line");
        row.classList.toggle("order-line-removed", event.target.checked);
      }
    });

    // --- the preview -----------------------------------------------------------------

    function state() {
      var lines = [];
      var sent = [];
      liveRows().forEach(function (row) {
        var product = whole(input(row, "product") && input(row, "product").value);
        var quantityInput = input(row, "quantity");
        var quantity = quantityInput ? quantityInput.value.trim() : "";
        if (product === null || quantity === "") {
          return; // still being filled in
        }
        var line = {
          product_id: product,
          quantity: /^-?[0-9]+$/.test(quantity) ? parseInt(quantity, 10) : quantity,
        };
        var id = whole(input(row, "id") && input(row, "id").value);
        if (id !== null) {
          line.line_id = id;
        }
        lines.push(line);
        sent.push(row);
      });
      var field = function (id) {
        var element = document.getElementById(id);
        return element ? element.value : "";
      };
      return {
        rows: sent,
        body: {
          order_id: whole(entry.dataset.orderId),
          customer_id: whole(field("customer")),
          coupon_code: field("coupon_code"),
          shipping_method_id: whole(field("shipping_method")),
          lines: lines,
        },
      };
    }

    function csrfToken() {
      var token = form.querySelector("input[name=csrf_token]");
      return token ? token.value : "";
    }

    function clearFeedback() {
      form.querySelectorAll(".order-grid-feedback").forEach(function (element) {
        element.remove();
      });
      linesErrors.innerHTML = "";
    }

    function feedback(anchor, messages) {
      var place = anchor.closest(".form-group") || anchor.parentNode;
      var box = document.createElement("div");
      box.className = "invalid-feedback d-block order-grid-feedback";
      messages.forEach(function (message) {
        var line = document.createElement("div");
        line.textContent = message;
        box.appendChild(line);
      });
      place.appendChild(box);
    }

    function showErrors(errors, sent) {
      var general = [];
      Object.keys(errors || {}).forEach(function (name) {
        var messages = errors[name];
        var match = LINE_ERROR.exec(name);
        var anchor = null;
        if (name === "lines") {
          anchor = null;
        } else if (match) {
          var row = sent[parseInt(match[1], 10)];
          anchor = row ? (match[2] ? input(row, match[2]) : row.querySelector(".order-line-actions")) : null;
        } else if (PRICING_FIELDS.indexOf(name) >= 0) {
          anchor = document.getElementById(name);
        }
        if (anchor) {
          feedback(anchor, messages);
        } else {
          general = general.concat(messages);
        }
      });
      general.forEach(function (message) {
        var paragraph = document.createElement("p");
        paragraph.className = "mb-1";
        paragraph.textContent = message;
        linesErrors.appendChild(paragraph);
      });
    }

    function setFigure(element, text, amount) {
      element.textContent = text;
      if (amount === undefined || amount === null) {
        element.removeAttribute("data-amount");
      } else {
        element.dataset.amount = amount;
      }
    }

    function badge(text, kind) {
      var element = document.createElement("span");
      element.className = "badge order-line-flag order-line-flag-" + kind;
      element.textContent = text;
      return element;
    }

    function clearLine(row) {
      row.querySelectorAll("[data-figure] .order-line-value").forEach(function (value) {
        setFigure(value, "", null);
      });
      row.querySelector(".order-line-flags").replaceChildren();
      row.classList.remove("order-line-short", "order-line-inactive");
    }

    function showLine(row, line, shown) {
      ["unit_price", "tax_rate", "line_total", "stock"].forEach(function (name) {
        var value = row.querySelector('[data-figure="' + name + '"] .order-line-value');
        setFigure(value, shown[name], name === "stock" ? line.stock : line[name]);
      });
      var flags = [];
      if (line.short) {
        flags.push(badge(consoleText("grid.short", { stock: shown.stock }), "short"));
      }
      if (line.inactive) {
        flags.push(badge(consoleText("grid.inactive"), "inactive"));
      }
      row.querySelector(".order-line-flags").replaceChildren.apply(
        row.querySelector(".order-line-flags"), flags
      );
      row.classList.toggle("order-line-short", Boolean(line.short));
      row.classList.toggle("order-line-inactive", Boolean(line.inactive));
    }

    function showTotals(quote) {
      ["subtotal", "discount_total", "shipping_total", "tax_total", "total"].forEach(function (name) {
        var cell = grid.querySelector('[data-total="' + name + '"]');
        if (cell) {
          setFigure(cell, quote ? quote.shown[name] : "", quote ? quote[name] : null);
        }
      });
      var code = grid.querySelector('[data-total-label="coupon_code"]');
      code.textContent = quote && quote.coupon_code && quote.discount_total !== "0.00"
        ? "(" + quote.coupon_code + ")" : "";
      grid.querySelector('[data-total-label="tax_total"]').textContent =
        quote ? quote.shown.tax_total_label : consoleText("grid.tax");
      var taxes = grid.querySelector("#grid-taxes");
      taxes.replaceChildren();
      (quote ? quote.taxes : []).forEach(function (tax, index) {
        var row = document.createElement("tr");
        row.className = "grid-tax";
        var label = document.createElement("th");
        label.scope = "row";
        label.textContent = quote.shown.taxes[index].label;
        var amount = document.createElement("td");
        amount.className = "text-right";
        setFigure(amount, quote.shown.taxes[index].tax, tax.tax);
        row.append(label, amount);
        taxes.appendChild(row);
      });
    }

    function show(quote, sent) {
      var failed = {};
      Object.keys(quote.errors || {}).forEach(function (name) {
        var match = LINE_ERROR.exec(name);
        if (match && match[2] === "product") {
          failed[match[1]] = true; // not priced: the quote's lines skip it
        }
      });
      var priced = sent.filter(function (row, index) { return !failed[index]; });
      rows().forEach(clearLine);
      priced.forEach(function (row, index) {
        if (quote.lines[index]) {
          showLine(row, quote.lines[index], quote.shown.lines[index]);
        }
      });
      showTotals(quote);
    }

    function report(outcome, text) {
      totalsBox.dataset.state = outcome;
      status.textContent = text;
    }

    function preview() {
      var current = state();
      if (current.body.lines.length === 0 && !pricedOnce) {
        // A new order with no line yet: nothing to price, and nothing to complain about.
        return;
      }
      pricedOnce = true;
      var mine = ++sequence;
      report("pending", consoleText("grid.updating"));
      window.fetch(entry.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify(current.body),
      })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (type.indexOf("application/json") < 0) {
            // A sign-in page (the session ended) or an error page, not figures.
            throw new Error(response.redirected ? consoleText("grid.session_ended")
              : consoleText("grid.answered", { status: response.status }));
          }
          return response.json();
        })
        .then(function (answer) {
          if (mine !== sequence) {
            return; // a later change is being priced
          }
          clearFeedback();
          if (answer.shown) {
            show(answer, current.rows);
          } else {
            rows().forEach(clearLine);
            showTotals(null);
          }
          showErrors(answer.errors, current.rows);
          var problems = Object.keys(answer.errors || {}).length;
          if (!answer.shown) {
            report("refused", consoleText("grid.correct"));
          } else if (problems) {
            report("refused", consoleText("grid.not_saved"));
          } else {
            report("done", consoleText("grid.computed"));
          }
        })
        .catch(function (error) {
          if (mine !== sequence) {
            return;
          }
          rows().forEach(clearLine);
          showTotals(null);
          report("failed", consoleText("grid.failed", { error: error.message }));
        });
    }

    function schedule(delay) {
      window.clearTimeout(timer);
      timer = window.setTimeout(preview, delay === undefined ? DELAY_MS : delay);
    }

    function concerns(target) {
      return grid.contains(target) || PRICING_FIELDS.indexOf(target.id) >= 0;
    }

    // Select2 (customer, products, shipping) announces a choice through jQuery only.
    if ($) {
      $(form).on("change", "input, select", function (event) {
        if (concerns(event.target)) {
          schedule();
        }
      });
    } else {
      form.addEventListener("change", function (event) {
        if (concerns(event.target)) {
          schedule();
        }
      });
    }
    form.addEventListener("input", function (event) {
      if (concerns(event.target)) {
        schedule();
      }
    });

    preview(); // a stored order, or a form that came back: its figures now
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
