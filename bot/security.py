"""Security headers on every response, session cookie flags, and the proxy set-up that makes them right.

The Content-Security-Policy allows scripts and styles from this app only (no inline script, no CDN),
which is why templates keep their JavaScript and CSS in bot/static/.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def configure(cfg, given: dict) -> None:
    """Session cookie and CSRF settings; keys in `given` (create_app's config) are left as given."""
    secure = str(cfg.get("COOKIE_SECURE", "")).strip().lower()
    values = {
        "SESSION_COOKIE_SECURE": secure in ("1", "true", "yes") if secure else cfg["ENV"] == "production",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=int(cfg.get("STAFF_SESSION_HOURS", 12))),
        "WTF_CSRF_CHECK_DEFAULT": False,  # checked by the /staff blueprint, not on the signed webhook
        "WTF_CSRF_TIME_LIMIT": None,  # valid for the session: a page left open must not lose a reply
    }
    cfg.update({key: value for key, value in values.items() if key not in given})


def init_app(app: Flask) -> None:
    n = int(app.config.get("TRUSTED_PROXIES", 0))
    if n:
        # Behind nginx: the client's address (login limits) and https (Secure, HSTS) come from X-Forwarded-*.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.after_request(add_headers)
    app.session_interface = CookieSessions()


def add_headers(response):
    headers = response.headers
    # One pass over the few headers a response has: Headers.setdefault looks each name up by
    # raising and catching a KeyError, which cost every webhook message about 35 µs (bench/README.md).
    present = {name.lower() for name, _ in headers.items()}
    for name, value in HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    if request.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
    return response


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per secret key instead
    of on every request (the webhook opens a session it never uses on each message)."""

    _made: tuple | None = None

    def get_signing_serializer(self, app):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = self._made
        if made is None or made[0] != key:
            made = self._made = (key, super().get_signing_serializer(app))
        return made[1]
