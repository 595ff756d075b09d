// Live refresh in place: on a live event about this patient, re-fetch this page and swap only the Assessments
// tab and the chart banners (htmx), so toasts and everything else on the page survive. A form being filled in
// is never wiped: the tab then shows a notice instead and only the banners refresh.
(function () {
  "use strict";
  var timer = null, leaving = false, dirty = false;
  var EVENTS = { "assessment.recorded": 1, "suicide_alert.acknowledged": 1 };
  window.addEventListener("beforeunload", function () { leaving = true; });
  document.addEventListener("submit", function () { leaving = true; }, true);
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t && t.closest && t.closest("#assessments-tab form[method='post']")) dirty = true;
  }, true);
  function url() { return location.pathname + location.search; }
  function refreshAll() {
    dirty = false;
    htmx.ajax("GET", url(), {
      target: "#assessments-tab", select: "#assessments-tab", swap: "outerHTML", selectOOB: "#chart-banners"
    });
  }
  function refresh() {
    timer = null;
    if (leaving || !window.htmx || !document.getElementById("assessments-tab")) return;
    if (!dirty) { refreshAll(); return; }
    htmx.ajax("GET", url(), { target: "#chart-banners", select: "#chart-banners", swap: "outerHTML" });
    var note = document.getElementById("assessments-stale");
    if (note) { note.hidden = false; return; }
    note = document.createElement("p");
    note.id = "assessments-stale"; note.className = "banner info"; note.setAttribute("role", "status");
    note.appendChild(document.createTextNode("New results arrived for this patient. "));
    var btn = document.createElement("button");
    btn.type = "button"; btn.className = "secondary"; btn.textContent = "Show them";
    btn.addEventListener("click", refreshAll);
    note.appendChild(btn);
    var tab = document.getElementById("assessments-tab");
    tab.insertBefore(note, tab.firstChild);
  }
  document.addEventListener("kc:live", function (e) {
    var d = e.detail || {};
    var tab = document.getElementById("assessments-tab");
    if (!tab || String(d.patient_id) !== tab.dataset.patientId) return;
    if (!EVENTS[d.type] && d.kind !== "suicide_risk") return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, 250);  // one refresh for a burst (the alert and the assessment arrive together)
  });
})();
