"""Rate limits (flask-limiter), one Limiter per app; Redis-backed when REDIS_URL is set.

- Every write (POST, PUT, PATCH, DELETE) counts against one per-person budget,
  WRITE_LIMIT, shared by all routes: generous for a person, a wall for a script.
- Routes next to sign-in (devices, sign-out everywhere, enrollment codes) have a tighter
  SIGN_IN_LIMIT of their own; failed enrollment redemptions ENROLLMENT_REDEEM_LIMIT.
- A check-in submission (POST /graduates/{id}/check-ins) that says the person is not safe
  is never limited: its flag and the 988 reply matter more than any budget. No other write
  is exempt, whatever its body holds.
- A body that cannot be parsed never reaches these checks: api.extensions.bodies refuses it
  (400) first.
- If Redis is unreachable, limits fall back to this process's memory rather than failing
  requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter

from api.checkins import routes as checkins
from api.config import Settings
from api.errors import DomainError
from api.extensions.smorest import request_claims

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN_ADJACENT = (
    "notifications.Devices",
    "notifications.DeviceEntry",
    "me.SignOutEverywhere",
    "graduates.GraduateEnrollmentCode",
)


def _caller_key() -> str:
    """Per person, not per address: many people share one NAT or load balancer.

    Limits are checked before the view signs the caller in, so the token is verified here
    (once: the view reuses the result).
    """
    try:
        claims = request_claims()
    except DomainError:
        return f"ip:{request.remote_addr}"
    return f"uid:{claims['sub']}"


def _exempt_from_write_budget() -> bool:
    if request.method not in WRITES:
        return True
    return checkins.unsafe_submission()


def install(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        key_func=_caller_key,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        key_prefix=settings.ratelimit_prefix,
        strategy="moving-window",
        headers_enabled=True,
        application_limits=[settings.write_limit],
        application_limits_exempt_when=_exempt_from_write_budget,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    for endpoint in SIGN_IN_ADJACENT:
        view: Callable[..., Any] = app.view_functions[endpoint]  # our views are all sync
        app.view_functions[endpoint] = limiter.limit(
            settings.sign_in_limit, methods=sorted(WRITES), per_method=False
        )(view)
    # Only failed redemptions count: guessing codes is what the limit is for.
    redeem: Callable[..., Any] = app.view_functions["graduates.Enrollments"]
    app.view_functions["graduates.Enrollments"] = limiter.limit(
        settings.enrollment_redeem_limit,
        deduct_when=lambda response: response.status_code >= 400,
        per_method=True,
    )(redeem)
    return limiter
