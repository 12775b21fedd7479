/*
 * The console's words for its scripts, in the page's language. The page template
 * writes them as data (<script type="application/json" id="script-texts">, from
 * console/script_texts.py): the Content Security Policy forbids inline scripts, so they
 * cannot be written into the code. consoleText("session.stay") is the text of a key;
 * consoleText("grid.short", {stock: 3}) fills its %(stock)s placeholder.
 */
(function () {
  "use strict";

  var block = document.getElementById("script-texts");
  var texts = {};
  try {
    texts = block ? JSON.parse(block.textContent) : {};
  } catch (error) {
    texts = {};
  }
  var own = Object.prototype.hasOwnProperty;

  window.consoleText = function (key, values) {
    var text = own.call(texts, key) ? texts[key] : key;
    return text.replace(/%\((\w+)\)s/g, function (whole, name) {
      return values && own.call(values, name) ? String(values[name]) : whole;
    });
  };
})();
