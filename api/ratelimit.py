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
- In Redis, the write budget's limits and the X-RateLimit-* figures for the reply are one
  round trip per request (ONE_TRIP), not three: the same moving window, the same keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, g, has_request_context, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, MovingWindowRateLimiter, WindowStats

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
REDEEM = "graduates.Enrollments"


# limits' acquire_moving_window.lua then its moving_window.lua, at one timestamp, for each
# limit in turn (KEYS[i]; ARGV: timestamp, cost, then limit and expiry per key), stopping
# after the first refused: whether the entry was taken, the window's oldest entry and count.
_ACQUIRE_AND_COUNT = """
local timestamp = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local results = {}
for k = 1, #KEYS do
    local limit = tonumber(ARGV[1 + 2 * k])
    local expiry = tonumber(ARGV[2 + 2 * k])
    local acquired = 0
    if amount <= limit then
        local entry = redis.call('lindex', KEYS[k], limit - amount)
        if not (entry and tonumber(entry) >= timestamp - expiry) then
            for i = 1, amount do
                redis.call('lpush', KEYS[k], timestamp)
            end
            redis.call('ltrim', KEYS[k], 0, limit - 1)
            redis.call('expire', KEYS[k], expiry)
            acquired = 1
        end
    end
    local low, high, found = 0, limit - 1, nil
    while low <= high do
        local mid = math.floor((low + high) / 2)
        local value = tonumber(redis.call('lindex', KEYS[k], mid))
        if value and value >= timestamp - expiry then
            found = mid
            low = mid + 1
        else
            high = mid - 1
        end
    end
    local oldest = found and redis.call('lindex', KEYS[k], found) or tostring(timestamp)
    table.insert(results, acquired)
    table.insert(results, oldest)
    table.insert(results, found and found + 1 or 0)
    if acquired == 0 then
        break
    end
end
return results
"""


class OneTripMovingWindow(MovingWindowRateLimiter):
    """flask-limiter's moving window in one Redis round trip per request: a hit on the first
    limit of `budget` takes the entry in every limit of it, in flask-limiter's order (the
    shortest window first) and stopping at the first refusal as flask-limiter does; the
    hits that follow read their outcome, and the reply's X-RateLimit-* headers the window
    each hit left. Only on routes without limits of their own (not in `own_limits`), where
    the budget is all flask-limiter checks. Outcomes live on flask.g: never another
    request's."""

    budget: tuple[RateLimitItem, ...] = ()
    own_limits: frozenset[str] = frozenset()

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        if not isinstance(self.storage, RedisStorage) or not has_request_context():
            return super().hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        taken = g.setdefault("rate_limit_taken", {})
        if key in taken:
            return bool(taken.pop(key))
        items = [item]
        if self.budget and item == self.budget[0] and request.endpoint not in self.own_limits:
            items = list(self.budget)
        script = getattr(self.storage, "lua_acquire_and_count", None)
        if script is None:
            script = self.storage.get_connection().register_script(_ACQUIRE_AND_COUNT.encode())
            self.storage.lua_acquire_and_count = script  # type: ignore[attr-defined]
        keys = [each.key_for(*identifiers) for each in items]
        limits = [figure for each in items for figure in (each.amount, each.get_expiry())]
        results = script([self.storage.prefixed_key(k) for k in keys], [time.time(), cost, *limits])
        readings = g.setdefault("rate_limit_windows", {})
        for n, each in enumerate(items[: len(results) // 3]):
            acquired, oldest, count = results[3 * n : 3 * n + 3]
            readings[keys[n]] = WindowStats(
                float(oldest) + each.get_expiry(), each.amount - int(count)
            )
            if n:
                taken[keys[n]] = acquired
        return bool(results[0])

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        readings = g.get("rate_limit_windows") if has_request_context() else None
        reading = readings.pop(item.key_for(*identifiers), None) if readings else None
        return reading or super().get_window_stats(item, *identifiers)


ONE_TRIP = "moving-window-one-trip"
STRATEGIES[ONE_TRIP] = OneTripMovingWindow


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
        strategy=ONE_TRIP,
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
    redeem: Callable[..., Any] = app.view_functions[REDEEM]
    app.view_functions[REDEEM] = limiter.limit(
        settings.enrollment_redeem_limit,
        deduct_when=lambda response: response.status_code >= 400,
        per_method=True,
    )(redeem)
    strategy = limiter.limiter
    if isinstance(strategy, OneTripMovingWindow):
        strategy.budget = tuple(sorted(parse_many(settings.write_limit)))  # flask-limiter's order
        strategy.own_limits = frozenset({*SIGN_IN_ADJACENT, REDEEM})
    return limiter
