// Live updates: one WebSocket per page to /ws/live/. Each message is dispatched as a `kc:live` DOM event.
// Alerts meant for this person arrive as toasts (role=alert, so screen readers announce them): the server sends
// them only to those who may act on them (the prescribers named on a suicide-risk alert; for session and sensor
// alerts, the clinic's staff who run sessions), each naming the patient. A toast can be dismissed, and it goes
// when the alert is acknowledged anywhere (an acknowledgement event with the same key). Reconnects with backoff.
(function () {
  "use strict";
  if (!document.body || document.body.dataset.live !== "on") return;
  var delay = 1000;
  function keyOf(ev) {
    if (ev.key) return String(ev.key);
    if (ev.kind === "suicide_risk" && ev.alert_id) return "suicide_risk-" + ev.alert_id;
    return "";
  }
  function toast(ev) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var key = keyOf(ev);
    if (key && box.querySelector('[data-key="' + key + '"]')) return;
    var el = document.createElement("div");
    el.className = "toast " + (ev.level === "info" ? "info" : "");
    el.setAttribute("role", "alert");
    el.dataset.kind = ev.kind || "alert";
    if (key) el.dataset.key = key;
    var text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = ev.title || ev.text || "Alert";
    el.appendChild(text);
    if (ev.url) {
      el.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = ev.url; a.textContent = "Open";
      el.appendChild(a);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-dismiss secondary";
    close.setAttribute("aria-label", "Dismiss this alert");
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { el.remove(); });
    el.appendChild(document.createTextNode(" "));
    el.appendChild(close);
    box.appendChild(el);
  }
  function forget(key) {
    var box = document.getElementById("toasts");
    if (!box || !key) return;
    box.querySelectorAll('[data-key="' + key + '"]').forEach(function (n) { n.remove(); });
  }
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/ws/live/");
    ws.onopen = function () { delay = 1000; document.body.dataset.liveConnected = "1"; };
    ws.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      document.dispatchEvent(new CustomEvent("kc:live", { detail: ev }));
      if (ev.type === "alert" && (ev.toast || ev.kind === "suicide_risk")) toast(ev);
      else if (ev.type === "alert_ack" && ev.key) forget(ev.key);
      else if (ev.type === "suicide_alert.acknowledged") forget("suicide_risk-" + ev.alert_id);
    };
    ws.onclose = function () {
      document.body.dataset.liveConnected = "0";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
