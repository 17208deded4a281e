"""Rate limits at the API with real (small) budgets: every write shares one per-person
budget, sign-in-adjacent routes have their own, callers without a token are counted by
address, reads are not limited, and a check-in saying "I'm not safe" is never refused.

The app here is its own, on the migrated database, with low limits and a fresh counter
prefix; every request is refused before it writes, so nothing is left behind. In CI the
counters live in Redis (REDIS_URL), as in production.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from flask import Flask

from api import create_app, devtokens
from tests import conftest

MISSING = f"/api/v1/graduates/{uuid.uuid4()}/check-ins"
DAILY = {"daily-mood": 5, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}


@pytest.fixture
def limited(migrated_url, clock) -> Flask:
    app = create_app(
        conftest.test_config(
            migrated_url,
            clock,
            RATELIMIT_PREFIX=f"limits-{uuid.uuid4().hex}",
            WRITE_LIMIT="3 per minute",
            SIGN_IN_LIMIT="2 per minute",
        )
    )
    yield app
    app.extensions["companion"].db.dispose()


def _post(app, clock, email: str | None, path: str = MISSING, answers: dict = DAILY):
    headers = {}
    if email is not None:
        token = devtokens.mint(project_id="demo-companion", email=email, now=clock.now())
        headers["Authorization"] = f"Bearer {token}"
    body = {"questionnaire": "daily", "answers": answers, "answered_at": clock.now().isoformat()}
    return app.test_client().post(path, json=body, headers=headers)


def test_writes_share_one_budget_per_person_and_the_429_is_in_the_error_format(limited, clock):
    person, other = (f"{uuid.uuid4().hex}@example.org" for _ in range(2))
    # Refused for other reasons (this person is no graduate), but counted all the same.
    assert [_post(limited, clock, person).status_code for _ in range(3)] == [403, 403, 403]
    refused = _post(limited, clock, person)
    assert refused.status_code == 429
    assert set(refused.json) >= {"code", "status", "message"} and refused.json["code"] == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert _post(limited, clock, other).status_code == 403  # someone else is not affected

    token = devtokens.mint(project_id="demo-companion", email=person, now=clock.now())
    read = limited.test_client().get(MISSING, headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 403  # reads are not limited

    # With the budget spent, a check-in that says "I'm not safe" still goes through:
    unsafe = _post(limited, clock, person, answers={**DAILY, "daily-safe": 0})
    assert unsafe.status_code == 403 and unsafe.json["safety"]["positive"] is True


def test_each_write_tells_the_caller_what_is_left_of_the_budget(limited, clock):
    person = f"{uuid.uuid4().hex}@example.org"
    replies = [_post(limited, clock, person) for _ in range(4)]
    assert [r.headers["X-RateLimit-Limit"] for r in replies] == ["3"] * 4
    assert [r.headers["X-RateLimit-Remaining"] for r in replies] == ["2", "1", "0", "0"]
    for reply in replies:
        # The oldest write of the minute ends its hold one minute after it was made.
        assert 0 < int(reply.headers["X-RateLimit-Reset"]) - time.time() <= 61
    assert replies[-1].status_code == 429


def test_a_budget_of_two_limits_counts_a_write_in_the_longer_only_if_the_shorter_took_it(
    migrated_url, clock
):
    app = create_app(
        conftest.test_config(
            migrated_url,
            clock,
            RATELIMIT_PREFIX=f"limits-{uuid.uuid4().hex}",
            WRITE_LIMIT="5 per minute;3 per hour",
        )
    )
    person = f"{uuid.uuid4().hex}@example.org"
    replies = [_post(app, clock, person) for _ in range(6)]
    app.extensions["companion"].db.dispose()
    assert [r.status_code for r in replies] == [403, 403, 403, 429, 429, 429]
    # Headers name the minute's limit, or the one that refused: the hour refuses the 4th and
    # 5th (the minute took them), the minute the 6th (the hour never saw it).
    figures = [
        (r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]) for r in replies
    ]
    assert figures == [("5", "4"), ("5", "3"), ("5", "2"), ("3", "0"), ("3", "0"), ("5", "0")]


def test_sign_in_adjacent_routes_have_a_tighter_budget(limited, clock):
    person = f"{uuid.uuid4().hex}@example.org"
    path = "/api/v1/devices/no-such-device"
    token = devtokens.mint(project_id="demo-companion", email=person, now=clock.now())
    client = limited.test_client()
    codes = [
        client.delete(path, headers={"Authorization": f"Bearer {token}"}).status_code
        for _ in range(3)
    ]
    assert codes[-1] == 429 and 429 not in codes[:2]


def test_callers_without_a_token_are_counted_by_address(limited, clock):
    codes = [_post(limited, clock, None).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_counters_live_in_redis_when_redis_url_is_set(limited):
    [limiter] = limited.extensions["limiter"]
    expected = "RedisStorage" if os.environ.get("REDIS_URL") else "MemoryStorage"
    assert type(limiter.storage).__name__ == expected


def _spend_budget(app, clock, person: str) -> None:
    assert [_post(app, clock, person).status_code for _ in range(3)] == [403, 403, 403]
    assert _post(app, clock, person).status_code == 429


def test_a_safety_answer_exempts_only_a_check_in_submission(limited, clock):
    person = f"{uuid.uuid4().hex}@example.org"
    _spend_budget(limited, clock, person)
    token = devtokens.mint(project_id="demo-companion", email=person, now=clock.now())
    unsafe = {
        "questionnaire": "daily",
        "answers": {**DAILY, "daily-safe": 0, "phq9-9": 3},
        "answered_at": clock.now().isoformat(),
    }
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    elsewhere = [
        ("POST", f"/api/v1/programs/{uuid.uuid4()}/members"),
        ("PUT", f"/api/v1/graduates/{uuid.uuid4()}/consents/{uuid.uuid4()}"),
        ("POST", "/api/v1/enrollments"),
        ("POST", "/api/v1/devices"),
    ]
    for method, path in elsewhere:
        response = client.open(path, method=method, json=unsafe, headers=headers)
        assert response.status_code == 429, (method, path, response.status_code)
    # The check-in route itself: still exempt when (and only when) the answer is unsafe.
    assert _post(limited, clock, person, answers={**DAILY, "daily-safe": 0}).status_code == 403
    assert _post(limited, clock, person).status_code == 429


def test_a_body_too_deep_to_parse_is_refused_before_the_budget(limited, clock, caplog):
    person = f"{uuid.uuid4().hex}@example.org"
    _spend_budget(limited, clock, person)
    token = devtokens.mint(project_id="demo-companion", email=person, now=clock.now())
    deep = "[" * 5000 + "]" * 5000
    for path in (MISSING, f"/api/v1/programs/{uuid.uuid4()}/members"):
        response = limited.test_client().post(
            path,
            data=deep,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        assert set(response.json) >= {"code", "status", "message"}
    # The limiter never had to swallow an error (which would have let the request through).
    assert not [r for r in caplog.records if r.name == "flask-limiter" and r.levelno >= 30]
