"""Rate limits (flask-limiter), one Limiter per app; Redis-backed when REDIS_URL is set."""

from __future__ import annotations

from flask import Flask, g, request
from flask_limiter import Limiter

from api.config import Settings


def _caller_key() -> str:
    actor = g.get("actor")
    return f"user:{actor.user_id}" if actor is not None else f"ip:{request.remote_addr}"


def install(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        key_func=_caller_key,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        key_prefix=settings.ratelimit_prefix,
        strategy="moving-window",
        headers_enabled=True,
    )
    # Only failed redemptions count: guessing codes is what the limit is for.
    redeem = app.view_functions["graduates.Enrollments"]
    app.view_functions["graduates.Enrollments"] = limiter.limit(
        settings.enrollment_redeem_limit,
        deduct_when=lambda response: response.status_code >= 400,
        per_method=True,
    )(redeem)
    return limiter
