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
  ready(function () {
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
