"""The care-team console: server-rendered pages under /console/ over the API's services.

Pages call the same service functions and `api.access` checks as the API routes, so there
is one authorization path and every clinical read is audited as the API audits it. A
browser cannot send a bearer token, so sign-in becomes a session cookie (`sessions`).
Every page works without JavaScript; all assets are served from here, and the pages'
Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

from flask import Flask

from api.config import Settings
from api.console import sessions

# Firebase's web sign-in talks to these; nothing else leaves the app's own origin.
FIREBASE_ORIGINS = "https://identitytoolkit.googleapis.com https://securetoken.googleapis.com"


def content_security_policy(settings: Settings) -> str:
    connect = "'self'" + (f" {FIREBASE_ORIGINS}" if settings.firebase_web_api_key else "")
    domain = settings.firebase_auth_domain or f"{settings.firebase_project_id}.firebaseapp.com"
    frames = f"https://{domain}" if settings.firebase_web_api_key else "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; frame-src {frames}; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


def install(app: Flask, settings: Settings, cookies: sessions.SessionCookies | None = None) -> None:
    from api.console import groups, staff  # noqa: F401  (their pages join the blueprint)
    from api.console.docs import blp as docs_blp
    from api.console.views import blp

    app.extensions["console_sessions"] = cookies or sessions.maker_for(
        settings.env, settings.firebase_project_id
    )
    app.extensions["console_csp"] = content_security_policy(settings)
    app.register_blueprint(blp)
    app.register_blueprint(docs_blp)
