// Page behaviours declared by data attributes, so templates need no inline script or on* handler (the
// Content-Security-Policy allows only the site's own script files). Listeners are delegated on the document,
// so content swapped in by htmx behaves the same. (ui.js wires the design system's behaviours: error summary,
// select[data-autosubmit], dismissable notices.)
//   data-select-on-focus       an input selects its whole text when focused (copyable links)
//   data-print                 a button opens the print dialog
//   data-history-back          a link goes back in history when there is history (its href otherwise)
//   data-reload-on-live="a b"  the page reloads on a live event of one of these types
//   data-pk-dose / data-pk-default-mg / data-pk-duration / data-pk-default-duration
//                              an htmx request sends amount_mg (and duration_min) from those inputs or defaults
(function () {
  "use strict";
  document.addEventListener("focusin", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("input[data-select-on-focus]")) t.select();
  });
  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("[data-print], a[data-history-back]") : null;
    if (!t) return;
    if (t.hasAttribute("data-print")) { e.preventDefault(); window.print(); return; }
    if (window.history.length > 1) { e.preventDefault(); window.history.back(); }
  });
  document.addEventListener("kc:live", function (e) {
    var ev = e.detail;
    if (!ev || !ev.type) return;
    var els = document.querySelectorAll("[data-reload-on-live]");
    for (var i = 0; i < els.length; i++) {
      if (els[i].getAttribute("data-reload-on-live").split(/\s+/).indexOf(ev.type) !== -1) {
        window.location.reload();
        return;
      }
    }
  });
  function valueOr(id, fallback) {
    var input = id ? document.getElementById(id) : null;
    return (input && input.value) || fallback;
  }
  document.addEventListener("htmx:configRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (!elt || !elt.dataset || !elt.dataset.pkDose) return;
    e.detail.parameters.amount_mg = valueOr(elt.dataset.pkDose, elt.dataset.pkDefaultMg);
    if (elt.dataset.pkDefaultDuration) {
      e.detail.parameters.duration_min = valueOr(elt.dataset.pkDuration, elt.dataset.pkDefaultDuration);
    }
  });
})();
