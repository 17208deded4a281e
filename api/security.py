"""Security headers on every response and CORS for the clinician console's origins only.

The phone app is not a browser and needs no CORS. The built-in console (/console/) is
same-origin and needs none either; a console hosted elsewhere sends a bearer token (never
cookies), so credentials are not allowed and only listed origins get an answer.
"""

from __future__ import annotations

from flask import Flask, Response, request

from api.config import Settings

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# The API returns data, never pages that run code. The console and Swagger UI (/api/docs)
# set their own policy, which allows scripts from the app's own origin only.
API_CSP = "default-src 'none'; frame-ancestors 'none'; style-src 'unsafe-inline'; img-src data:"
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, Accept"
CORS_EXPOSED = "X-Pagination, ETag, X-Request-ID, Idempotent-Replayed, Retry-After"


def install(app: Flask, settings: Settings) -> None:
    allowed = frozenset(settings.cors_origins)
    production = settings.env == "production"

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", API_CSP)
        if production:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        origin = request.headers.get("Origin")
        if origin is not None:
            response.vary.add("Origin")
            if origin in allowed:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
                if request.method == "OPTIONS":
                    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                    response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                    response.headers["Access-Control-Max-Age"] = "600"
        return response
