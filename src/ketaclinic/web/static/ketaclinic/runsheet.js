// Run sheet: the dose form's figures (mg, mg/kg, volume to draw up) follow the dose typed and the lot chosen;
// the flowsheet (grid and vitals chart, drawn by the server) is fetched again when a live event concerns this
// session: a manual or sensor vitals set, a score, an alert, a pause or resume, a change of status.
(function () {
  "use strict";
  function num(text) {
    var x = parseFloat(String(text || "").replace(",", "."));
    return isFinite(x) ? x : null;
  }
  function plain(x, places) {
    var f = Math.pow(10, places);
    return String(Math.round(x * f) / f);
  }
  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  var form = document.getElementById("form-dose");
  if (form) {
    var dose = document.getElementById("d-mg"), lot = document.getElementById("d-lot");
    var recompute = function () {
      var mg = num(dose.value), kg = num(form.dataset.weightKg);
      var opt = lot && lot.options[lot.selectedIndex];
      var per = opt ? num(opt.dataset.mgPerUnit) : null;
      setText("dose-calc-mg", mg !== null && mg > 0 ? plain(mg, 2) : "–");
      setText("dose-calc-per-kg", mg !== null && mg > 0 && kg ? plain(mg / kg, 3) : "–");
      setText("dose-calc-volume", mg !== null && mg > 0 && per ? plain(mg / per, 2) : "–");
      setText("dose-calc-unit", opt && opt.dataset.unit ? opt.dataset.unit : "");
    };
    dose.addEventListener("input", recompute);
    if (lot) lot.addEventListener("change", recompute);
  }

  var live = document.getElementById("flowsheet-live");
  if (!live) return;
  var sessionId = live.dataset.session, url = live.dataset.flowsheetUrl;
  var RELEVANT = {session_vitals: 1, vitals: 1, alert: 1, alert_ack: 1, alert_cleared: 1, session: 1,
                  infusion_paused: 1, infusion_resumed: 1, session_score: 1};
  var timer = null, busy = false;
  function refresh() {
    if (busy) { timer = setTimeout(refresh, 500); return; }
    busy = true;
    fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var box = document.getElementById("flowsheet-live");
        if (!box) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var fresh = tpl.content.getElementById("flowsheet-live");
        if (fresh) {
          box.replaceWith(fresh);
          fresh.dataset.refreshes = String(Number(box.dataset.refreshes || 0) + 1);
        }
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () { busy = false; });
  }
  document.addEventListener("kc:live", function (e) {
    var ev = e.detail || {};
    if (!RELEVANT[ev.type] || String(ev.session) !== String(sessionId)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
})();
