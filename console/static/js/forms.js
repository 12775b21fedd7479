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

  // Select2 (Flask-Admin's multiple pickers) draws each chosen item with an empty
  // remove link: name it after the item, for screen readers and axe-core.
  function labelRemoveLinks(root) {
    root.querySelectorAll(".select2-search-choice-close:not([aria-label])").forEach(function (link) {
      var choice = link.parentElement ? link.parentElement.textContent.trim() : "";
      link.setAttribute(
        "aria-label",
        choice ? consoleText("forms.remove_choice", { choice: choice }) : consoleText("forms.remove")
      );
    });
  }
  // Flask-Admin's lists: the row checkboxes carry only a title, and the column help
  // icons lose theirs to Bootstrap's tooltip (which keeps it in data-original-title).
  function labelListControls(root) {
    root.querySelectorAll("input.action-rowtoggle:not([aria-label])").forEach(function (box) {
      box.setAttribute("aria-label", consoleText("forms.select_all"));
    });
    root.querySelectorAll("input.action-checkbox:not([aria-label])").forEach(function (box) {
      box.setAttribute("aria-label", consoleText("forms.select_record", { id: box.value }));
    });
    root.querySelectorAll("a.fa-question-circle:not([aria-label])").forEach(function (icon) {
      var help = icon.getAttribute("data-original-title") || icon.getAttribute("title") || "";
      icon.setAttribute("aria-label", help || consoleText("forms.help"));
    });
  }

  function label() {
    labelRemoveLinks(document);
    labelListControls(document);
  }
  label();
  new MutationObserver(label).observe(document.body, { childList: true, subtree: true });
})();
