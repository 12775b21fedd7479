/*
 * The console's words for its scripts, in the page's language. The page template
 * writes them as data (<script type="application/json" id="script-texts">, from
 * console/script_texts.py): the Content Security Policy forbids inline scripts, so they
 * cannot be written into the code. consoleText("session.stay") is the text of a key;
 * consoleText("grid.short", {stock: 3}) fills its %(stock)s placeholder.
 * consolePlural("session.seconds", 5, {count: 5}) is the form of a plural text for the
 * number 5, by the page language's plural rules (the page carries every form).
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

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (whole, name) {
      return values && own.call(values, name) ? String(values[name]) : whole;
    });
  }

  window.consoleText = function (key, values) {
    return fill(own.call(texts, key) ? texts[key] : key, values);
  };

  var rules = null;
  try {
    rules = new Intl.PluralRules(document.documentElement.lang || undefined);
  } catch (error) {
    rules = null;
  }

  window.consolePlural = function (key, number, values) {
    var forms = own.call(texts, key) ? texts[key] : {};
    var category = rules ? rules.select(number) : (number === 1 ? "one" : "other");
    var text = own.call(forms, category) ? forms[category] : forms.other;
    return fill(text === undefined ? key : text, values);
  };
})();
