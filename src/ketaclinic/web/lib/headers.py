"""Security headers on every response: Content-Security-Policy, Permissions-Policy, nosniff and Referrer-Policy.

The policy allows only the site's own scripts, styles, images (plus data: images) and connections (plus its
WebSockets); no inline script, inline style, event-handler attribute, script URL or eval. Pages therefore keep their
behaviour in static files (ketaclinic/app.js and each app's static folder). The policy and the feature policy are
settings (CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY); a response that already carries a header keeps it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

#: The policy every page must satisfy (tests/web/test_security_headers.py scans the templates against it).
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
#: Browser features the app never uses are switched off for it and anything it might embed.
DEFAULT_PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)


class SecurityHeadersMiddleware:
    """Adds the headers to each response (static files served by WhiteNoise included)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP),
            "Permissions-Policy": getattr(settings, "PERMISSIONS_POLICY", DEFAULT_PERMISSIONS_POLICY),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": getattr(settings, "SECURE_REFERRER_POLICY", None) or "same-origin",
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in self.headers.items():
            if value and name not in response:
                response[name] = value
        return response
