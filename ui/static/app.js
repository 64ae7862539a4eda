// Tapline UI: small progressive enhancements. Every page works without
// this file; it adds keyboard shortcuts and conveniences only.
(function () {
  "use strict";

  // Picking a relative range clears the absolute bounds (which would win),
  // and typing an absolute bound switches the range to "Custom".
  function timePicker() {
    var rel = document.querySelector('[data-timepicker="relative"]');
    var abs = document.querySelectorAll('[data-timepicker="absolute"]');
    if (!rel) return;
    rel.addEventListener("change", function () {
      if (rel.value !== "") abs.forEach(function (el) { el.value = ""; });
    });
    abs.forEach(function (el) {
      el.addEventListener("input", function () {
        var custom = rel.querySelector('option[value=""]');
        if (!custom) {
          custom = document.createElement("option");
          custom.value = "";
          custom.textContent = "Custom";
          rel.insertBefore(custom, rel.firstChild);
        }
        rel.value = "";
      });
    });
  }

  // Expand or collapse every row of the waterfall.
  function waterfallTools() {
    document.querySelectorAll("[data-details]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var open = btn.getAttribute("data-details") === "open";
        document.querySelectorAll("#waterfall details").forEach(function (d) { d.open = open; });
      });
    });
    // A link to #e3 opens that row.
    if (location.hash) {
      var row = document.getElementById(location.hash.slice(1));
      if (row && row.tagName === "DETAILS") row.open = true;
    }
  }

  // Empty inputs stay out of the URL, so shared links stay short.
  function tidyForms() {
    document.querySelectorAll('form[method="get"]').forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("input, select").forEach(function (el) {
          if (el.name && el.value === "" && el.type !== "checkbox") el.disabled = true;
        });
        setTimeout(function () {
          form.querySelectorAll("input, select").forEach(function (el) { el.disabled = false; });
        }, 0);
      });
    });
  }

  // "/" focuses the first filter; Escape leaves an input.
  function shortcuts() {
    document.addEventListener("keydown", function (e) {
      var t = e.target;
      var typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        var first = document.querySelector(".filters .grid input:not([type=hidden]), .filters input:not([type=hidden])");
        if (first) {
          e.preventDefault();
          first.focus();
        }
      } else if (e.key === "Escape" && typing) {
        t.blur();
      }
    });
  }

  function init() {
    timePicker();
    waterfallTools();
    tidyForms();
    shortcuts();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
