/*
 * Forms that change records are sent once: after the first submit their buttons are
 * disabled, so a double click does not post the form twice. (The server refuses a
 * create form submitted twice anyway; this spares the person the second round trip.)
 * The clicked button is disabled only after the browser has taken its name and value
 * ("Save and Continue Editing"), hence the deferred disabling.
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.method || "").toLowerCase() !== "post") {
      return;
    }
    if (form.dataset.submitted === "yes") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "yes";
    window.setTimeout(function () {
      form.querySelectorAll('button[type="submit"], input[type="submit"]').forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  // Coming back with the browser's Back button shows the page from its cache, with the
  // buttons disabled: enable them again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll('button[type="submit"], input[type="submit"]').forEach(function (button) {
        button.disabled = false;
      });
    });
  });
})();
