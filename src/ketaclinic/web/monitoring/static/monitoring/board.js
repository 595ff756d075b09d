// Live board: renders the snapshot, then applies board events (vitals, alert, alert_cleared, alert_ack; the
// run sheet's own alerts and infusion pauses arrive the same way and show in the same list as sensor alerts)
// from /ws/monitoring/board/<site>/. Sparklines keep the last 120 s per metric. Reconnects with backoff, and
// after a reconnect reloads the snapshot: alerts raised while the socket was down must reach the board.
(function () {
  "use strict";
  var script = document.currentScript;
  var siteId = script && script.dataset.site;
  var snap = JSON.parse(document.getElementById("board-snapshot").textContent);
  var METRICS = [["sbp", "SBP", "mmHg"], ["dbp", "DBP", "mmHg"], ["hr", "HR", "/min"], ["spo2", "SpO₂", "%"], ["rr", "RR", "/min"]];
  var WINDOW_MS = 120000;
  var sessions = {};   // id -> {data, el}
  var alerts = {};     // id -> alert
  var grid = document.getElementById("sessions");
  var list = document.getElementById("alerts");
  var statusEl = document.getElementById("board-status");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmtClock(fromIso) {
    if (!fromIso) return "–";
    var s = Math.max(0, Math.floor((Date.now() - Date.parse(fromIso)) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), ss = s % 60;
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(ss).padStart(2, "0");
  }
  function spark(svg, points) {
    var now = Date.now(), lo = Infinity, hi = -Infinity;
    points = points.filter(function (p) { return now - Date.parse(p[0]) <= WINDOW_MS; });
    points.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
    if (hi - lo < 4) { var mid = (hi + lo) / 2; lo = mid - 2; hi = mid + 2; }
    var pts = points.map(function (p) {
      var x = 100 - (now - Date.parse(p[0])) / WINDOW_MS * 100;
      var y = 20 - (p[1] - lo) / (hi - lo) * 18;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    svg.firstChild.setAttribute("points", pts);
    return points;
  }
  function renderSession(s) {
    var card = el("article", {"class": "pt", "id": "session-" + s.id, "data-session": s.id});
    var head = el("header");
    head.appendChild(el("h3", null, s.patient.name));
    var clock = el("span", {"class": "clock", "title": s.clock_label}, fmtClock(s.clock_from));
    head.appendChild(clock);
    card.appendChild(head);
    card.appendChild(el("div", {"class": "small muted"}, s.patient.mrn + " · " + s.status_label + " · " +
      (s.devices.length ? s.devices.map(function (d) { return d.label; }).join(", ") : "no sensor")));
    var box = el("div", {"class": "vitals"});
    var cells = {};
    METRICS.forEach(function (m) {
      var row = el("div", {"class": "vital", "data-metric": m[0]});
      row.appendChild(el("span", {"class": "small"}, m[1]));
      var v = el("span", {"class": "v", "aria-label": m[1]}, "–");
      row.appendChild(v);
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 100 22"); svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("aria-hidden", "true");
      svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
      row.appendChild(svg);
      box.appendChild(row);
      cells[m[0]] = {v: v, svg: svg, points: (s.vitals && s.vitals[m[0]]) || []};
    });
    card.appendChild(box);
    grid.appendChild(card);
    sessions[s.id] = {data: s, el: card, clock: clock, cells: cells};
    METRICS.forEach(function (m) { paint(s.id, m[0]); });
  }
  function paint(sid, metric) {
    var c = sessions[sid] && sessions[sid].cells[metric];
    if (!c) return;
    c.points = spark(c.svg, c.points);
    var last = c.points[c.points.length - 1];
    c.v.textContent = last ? (Math.round(last[1] * 10) / 10) : "–";
  }
  function refreshEmpty() {
    document.getElementById("no-sessions").hidden = Object.keys(sessions).length > 0;
    var open = Object.keys(alerts).length;
    document.getElementById("no-alerts").hidden = open > 0;
    Object.keys(sessions).forEach(function (sid) {
      var has = Object.keys(alerts).some(function (k) { return String(alerts[k].session) === String(sid); });
      sessions[sid].el.classList.toggle("alerting", has);
    });
  }
  function patientName(sid) {
    return sessions[sid] ? sessions[sid].data.patient.name : "session " + sid;
  }
  function renderAlert(a) {
    var old = document.getElementById("alert-" + a.id);
    if (a.acknowledged_at) { if (old) old.remove(); delete alerts[a.id]; refreshEmpty(); return; }
    alerts[a.id] = a;
    var li = el("li", {"id": "alert-" + a.id, "class": a.severity + (a.escalated_at || a.escalated ? " escalated" : ""),
                       "data-rule": a.rule_id, "data-session": a.session});
    var strong = el("strong", null, patientName(a.session) + ": ");
    li.appendChild(strong);
    li.appendChild(document.createTextNode(a.message + (a.cleared_at ? " (cleared)" : "")));
    li.dataset.kind = a.kind || "sensor";
    var when = new Date(a.fired_at).toLocaleTimeString();
    if (a.kind === "pause") {
      // An infusion pause (by staff or by an alert rule): open until the infusion resumes or dosing ends.
      li.appendChild(el("div", {"class": "src"}, "Infusion paused since " + when));
      if (a.run_sheet) li.appendChild(el("a", {"href": a.run_sheet}, "Open the run sheet"));
      if (old) old.replaceWith(li); else list.insertBefore(li, list.firstChild);
      refreshEmpty();
      return;
    }
    if (a.kind === "session") {
      // A threshold alert from vitals or a sedation score typed on the run sheet: acknowledged there.
      li.appendChild(el("div", {"class": "src"}, "Run sheet entry · " + a.severity + " · raised " + when +
        " · Source: " + a.source));
      var sform = el("form", {"method": "post", "action": a.ack_url});
      sform.appendChild(el("input", {"type": "hidden", "name": "csrfmiddlewaretoken", "value": csrf}));
      sform.appendChild(el("input", {"type": "hidden", "name": "id", "value": String(a.pk)}));
      sform.appendChild(el("button", {"type": "submit"}, "Acknowledge"));
      if (a.run_sheet) sform.appendChild(el("a", {"href": a.run_sheet}, "Open the run sheet"));
      li.appendChild(sform);
      if (old) old.replaceWith(li); else list.insertBefore(li, list.firstChild);
      refreshEmpty();
      return;
    }
    li.appendChild(el("div", {"class": "src"}, "Rule " + a.rule_id + " · " + a.severity + " · fired " +
      when + " · Source: " + a.source));
    var form = el("form", {"method": "post", "action": "/monitoring/alerts/" + a.id + "/acknowledge/"});
    var sel = el("select", {"name": "action", "aria-label": "Action taken"});
    sel.innerHTML = document.getElementById("ack-actions").innerHTML;
    form.appendChild(sel);
    form.appendChild(el("input", {"name": "note", "placeholder": "Note", "aria-label": "Note", "maxlength": "500"}));
    var btn = el("button", {"type": "submit"}, "Acknowledge");
    form.appendChild(btn);
    var err = el("span", {"class": "field-error", "role": "status"});
    form.appendChild(err);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fetch("/api/v1/monitoring/alerts/" + a.id + "/acknowledge", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({action: sel.value, note: form.note.value})
      }).then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (res) {
          if (res[0] === 200) { renderAlert(res[1]); }
          else { err.textContent = (res[1].error && res[1].error.message) || "Could not acknowledge"; }
        });
    });
    li.appendChild(form);
    if (old) old.replaceWith(li); else list.insertBefore(li, list.firstChild);
    refreshEmpty();
  }
  function onEvent(ev) {
    if (ev.type === "vitals") {
      var s = sessions[ev.session];
      if (!s) return;   // a session that started after load: reload shows it
      Object.keys(ev.values).forEach(function (m) {
        if (!s.cells[m]) return;
        s.cells[m].points.push(ev.values[m]);
        paint(ev.session, m);
      });
    } else if (ev.type === "alert" || ev.type === "alert_ack") {
      renderAlert(ev);
    } else if (ev.type === "infusion_paused") {
      renderAlert({id: "pause-" + ev.pause, kind: "pause", session: ev.session, severity: "warning",
                   message: "infusion paused (" + ev.reason + ")", fired_at: ev.at, run_sheet: ev.run_sheet});
    } else if (ev.type === "infusion_resumed") {
      renderAlert({id: "pause-" + ev.pause, acknowledged_at: ev.at});
    } else if (ev.type === "alert_cleared") {
      Object.keys(alerts).forEach(function (k) {
        var a = alerts[k];
        if (String(a.session) === String(ev.session) && a.rule_id === ev.rule_id && !a.cleared_at) {
          a.cleared_at = new Date().toISOString(); a.message = a.message; renderAlert(a);
        }
      });
    }
  }
  function render(snapshot) {
    grid.textContent = ""; list.textContent = ""; sessions = {}; alerts = {};
    snapshot.sessions.forEach(renderSession);
    snapshot.sessions.forEach(function (s) { s.alerts.forEach(function (a) { if (!a.acknowledged_at) renderAlert(a); }); });
    refreshEmpty();
  }
  function reload() {
    return fetch("/api/v1/monitoring/sites/" + siteId + "/board", {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("snapshot " + r.status); return r.json(); })
      .then(function (fresh) { render(fresh); statusEl.dataset.reloads = String(Number(statusEl.dataset.reloads || 0) + 1); });
  }
  var delay = 1000, opened = false;
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/ws/monitoring/board/" + siteId + "/");
    ws.onopen = function () {
      delay = 1000; statusEl.textContent = "live"; statusEl.className = "badge ok"; statusEl.dataset.state = "live";
      if (opened) {
        reload().catch(function () { statusEl.textContent = "live (reload failed: refresh the page)"; });
      }
      opened = true;
    };
    ws.onmessage = function (msg) { try { onEvent(JSON.parse(msg.data)); } catch (e) { /* ignore malformed */ } };
    ws.onclose = function () {
      statusEl.textContent = "reconnecting…"; statusEl.className = "badge danger"; statusEl.dataset.state = "down";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    };
  }
  render(snap);
  setInterval(function () {
    Object.keys(sessions).forEach(function (sid) {
      var s = sessions[sid];
      s.clock.textContent = fmtClock(s.data.clock_from);
    });
  }, 1000);
  connect();
})();
