/*
 * The order form's address pickers ("Billing address", "Shipping address").
 *
 * When the customer changes, the customer's address book is read from the console
 * (GET /admin/customer/<id>/addresses/, JSON) and each picker lists their addresses
 * with their default chosen; the one-off fields below a picker show the chosen
 * address. Typing in those fields switches the picker to "typed below". The server
 * copies the chosen address into the order when it is saved (and takes the
 * customer's defaults itself when this script does not run).
 *
 * Loaded on every admin page (admin/master.html); it does nothing on pages without
 * address pickers.
 */
(function () {
  "use strict";

  var DEFAULT = "";
  var TYPED = "typed";

  function pickers() {
    return Array.prototype.slice.call(document.querySelectorAll("select[data-address-kind]"));
  }

  function fieldsOf(picker) {
    var kind = picker.dataset.addressKind;
    return (picker.dataset.addressFields || "").split(" ").filter(Boolean).map(function (name) {
      return { name: name, element: document.getElementById(kind + "_" + name) };
    }).filter(function (field) { return field.element !== null; });
  }

  function show(picker, address) {
    fieldsOf(picker).forEach(function (field) {
      field.element.value = address ? (address.fields[field.name] || "") : "";
    });
  }

  function option(value, label) {
    var element = document.createElement("option");
    element.value = value;
    element.textContent = label;
    return element;
  }

  function offer(picker, book) {
    var kind = picker.dataset.addressKind;
    var labels = {};
    Array.prototype.forEach.call(picker.options, function (element) {
      labels[element.value] = element.textContent;
    });
    picker.replaceChildren(option(DEFAULT, labels[DEFAULT] || ""));
    book.addresses.forEach(function (address) {
      var isDefault = address["default_" + kind];
      var label = isDefault ? consoleText("addresses.is_default", { label: address.label }) : address.label;
      picker.appendChild(option(String(address.id), label));
    });
    picker.appendChild(option(TYPED, labels[TYPED] || ""));
    var chosen = book["default_" + kind];
    picker.value = chosen === null || chosen === undefined ? DEFAULT : String(chosen);
    show(picker, addressWithId(book, chosen));
  }

  function addressWithId(book, id) {
    for (var i = 0; i < book.addresses.length; i += 1) {
      if (String(book.addresses[i].id) === String(id)) {
        return book.addresses[i];
      }
    }
    return null;
  }

  function start() {
    var found = pickers();
    if (found.length === 0) {
      return;
    }
    var customer = document.getElementById("customer");
    var book = null;

    // ``offerIt``: list the book in the pickers (a customer was just chosen); otherwise
    // only keep it, to show an address picked later (a form opened on a saved order).
    function load(offerIt) {
      var id = customer ? String(customer.value || "").trim() : "";
      if (!/^[0-9]+$/.test(id)) {
        return;
      }
      var url = found[0].dataset.addressesUrl.replace("{id}", id);
      window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data === null || String(customer.value) !== id) {
            return;
          }
          book = data;
          if (offerIt) {
            found.forEach(function (picker) { offer(picker, data); });
          }
          document.body.dataset.addressBook = id;
        })
        .catch(function () { /* the server takes the defaults when the order is saved */ });
    }

    found.forEach(function (picker) {
      picker.addEventListener("change", function () {
        if (picker.value !== TYPED && picker.value !== DEFAULT && book !== null) {
          show(picker, addressWithId(book, picker.value));
        } else if (picker.value === DEFAULT && book !== null) {
          show(picker, addressWithId(book, book["default_" + picker.dataset.addressKind]));
        }
      });
      fieldsOf(picker).forEach(function (field) {
        field.element.addEventListener("input", function () { picker.value = TYPED; });
        field.element.addEventListener("change", function () { picker.value = TYPED; });
      });
    });

    if (customer) {
      var chosen = function () { load(true); };
      // Select2 (Flask-Admin's customer look-up) announces a choice through jQuery.
      if (window.jQuery) {
        window.jQuery(customer).on("change", chosen);
      } else {
        customer.addEventListener("change", chosen);
      }
      load(false);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
