"""Request bodies: parsed once, before anything (rate limits, the safety screen, webargs)
reads them, so a body that cannot be parsed is a 400 in the one error format, never a 500.

Python's JSON parser recurses: a body nested some thousand levels deep raises RecursionError,
which is no ValueError, so Flask and flask-limiter let it escape (a 500, or a limit check
swallowed and skipped). Here it is a parse failure like any other. Shallower but still absurd
nesting and lone UTF-16 surrogates parse, and are refused by `Schema` (422), so an unsafe
check-in with odd extras still gets its safety block.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest


class BodyJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


class BodyRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not a JSON content type: Flask's own 415
            return super().on_json_loading_failed(e)
        raise BadRequest(f"The body is not valid JSON: {e}.") from e


def install(app: Flask) -> None:
    """Call before any other before_request hook that reads the body (the rate limiter)."""
    app.json = BodyJSONProvider(app)
    app.request_class = BodyRequest

    @app.before_request
    def _parse_json_body() -> None:
        # get_data raises 413 past MAX_CONTENT_LENGTH; an empty body is left to the schemas.
        if request.is_json and request.get_data(cache=True):
            request.get_json()  # BadRequest (400) if malformed; cached for everyone after
