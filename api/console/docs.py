"""Swagger UI at /api/docs from the app's own copy of swagger-ui-dist: no CDN, no inline
script (its start-up lives in docs.js)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

blp = Blueprint("docs", __name__, template_folder="templates")

# Swagger UI sets style attributes from its React components; scripts stay our own files.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@blp.get("/api/docs")
@blp.get("/api/docs/")
def swagger_ui() -> Response:
    response = Response(render_template("console/docs.html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response
