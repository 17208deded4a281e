"""Rate limits (flask-limiter), one Limiter per app; Redis-backed when REDIS_URL is set."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter

from api.auth import bearer_token
from api.config import Settings
from api.errors import DomainError
from api.runtime import runtime


def _caller_key() -> str:
    """Per person, not per address: many people share one NAT or load balancer.

    Limits are checked before the view signs the caller in, so the token is verified here.
    """
    try:
        claims = runtime().verifier.verify(bearer_token(request.headers.get("Authorization")))
    except DomainError:
        return f"ip:{request.remote_addr}"
    return f"uid:{claims['sub']}"


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
