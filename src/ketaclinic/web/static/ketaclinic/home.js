// Home page timers: each [data-elapsed-since] shows the whole minutes since its ISO time, counted every 15 s.
(function () {
  "use strict";
  function tick() {
    document.querySelectorAll("[data-elapsed-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-elapsed-since"));
      if (isNaN(since)) { return; }
      var minutes = Math.max(0, Math.floor((Date.now() - since) / 60000));
      el.textContent = minutes + " min";
    });
  }
  tick();
  setInterval(tick, 15000);
})();
