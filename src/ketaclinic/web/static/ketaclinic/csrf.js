// Send Django's CSRF token with every htmx request (read from the page, not the cookie).
document.addEventListener("htmx:configRequest", function (evt) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) evt.detail.headers["X-CSRFToken"] = meta.content;
});
