// Page behaviour shared by every page, wired by data attributes (no inline scripts or event attributes):
// - [data-error-summary]: the form's error summary takes focus when the page loads, so it is read first;
//   its links move focus to the field they name.
// - select[data-autosubmit]: submits its form when the choice changes (the clinic switcher).
// - [data-dismiss]: a button that removes its closest [data-dismissable] element (toasts, notices).
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  // A table wider than its box scrolls inside itself; keyboard users reach it with Tab and scroll it with the
  // arrow keys, so a scrolling one is made focusable and named after its caption or the nearest heading.
  function scrollables() {
    var els = document.querySelectorAll("main table, main .table-wrap, main pre");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.scrollWidth > el.clientWidth + 1) {
        if (!el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          el.dataset.scrollFocus = "1";
        }
        if (el.tagName !== "TABLE" && !el.hasAttribute("role")) el.setAttribute("role", "region");
        if (!el.hasAttribute("aria-label") && el.tagName !== "TABLE") {
          var cap = el.querySelector("caption");
          el.setAttribute("aria-label", cap ? cap.textContent.trim() : "Scrollable table");
        }
      } else if (el.dataset.scrollFocus === "1") {
        el.removeAttribute("tabindex");
        delete el.dataset.scrollFocus;
      }
    }
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(scrollables, 150);
  });
  ready(function () {
    scrollables();
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      summary.addEventListener("click", function (ev) {
        var a = ev.target.closest("a[href^='#']");
        if (!a) return;
        var field = document.getElementById(a.getAttribute("href").slice(1));
        if (!field) return;
        ev.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus();
      });
    }
  });
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-dismiss]") : null;
    if (!btn) return;
    var box = btn.closest("[data-dismissable]");
    if (box) box.remove();
  });
})();
