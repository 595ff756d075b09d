// Live updates: one WebSocket per page to /ws/live/. Each message is dispatched as a `kc:live` DOM event;
// alerts also appear as toasts (role=alert, so screen readers announce them). Reconnects with backoff.
(function () {
  "use strict";
  if (!document.body || document.body.dataset.live !== "on") return;
  var delay = 1000;
  function toast(ev) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast " + (ev.level === "info" ? "info" : "");
    el.setAttribute("role", "alert");
    el.dataset.kind = ev.kind || "alert";
    var text = document.createElement("span");
    text.textContent = ev.title || ev.text || "Alert";
    el.appendChild(text);
    if (ev.url) {
      el.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = ev.url; a.textContent = "Open";
      el.appendChild(a);
    }
    box.appendChild(el);
  }
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/ws/live/");
    ws.onopen = function () { delay = 1000; document.body.dataset.liveConnected = "1"; };
    ws.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      document.dispatchEvent(new CustomEvent("kc:live", { detail: ev }));
      if (ev.type === "alert") toast(ev);
    };
    ws.onclose = function () {
      document.body.dataset.liveConnected = "0";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
