/*
 * The order's page: a workflow button with a data-confirm question (Cancel order)
 * asks it before its form is sent.
 */
(function () {
  "use strict";

  document.querySelectorAll("#order-actions [data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
