"""Log lines keep every field the code passes in `extra`, and never a person's words or
secrets: answers, notes, emails and tokens are dropped whoever logged them."""

from __future__ import annotations

import json
import logging

import pytest

from api import devtokens
from api.logs import JsonFormatter
from jobs.scheduler import run_job


def formatted(caplog: pytest.LogCaptureFixture, message: str) -> dict:
    [record] = [r for r in caplog.records if r.getMessage() == message]
    return json.loads(JsonFormatter().format(record))


@pytest.mark.parametrize(
    ("logger", "message", "extra"),
    [
        ("api.notifications.dispatch", "dispatched", {"dispatcher": "d-1", "claimed": 500}),
        ("api.extensions.smorest", "database unavailable", {"error": "OperationalError"}),
        ("api.notifications.senders", "fcm batch failed", {"error": "TransportError"}),
        ("api.reminders.planner", "unknown time zone; no reminders", {"graduate": "6b1c0c3e"}),
    ],
)
def test_every_extra_field_reaches_the_line(caplog, logger, message, extra):
    caplog.set_level(logging.INFO)
    logging.getLogger(logger).warning(message, extra=extra)
    line = formatted(caplog, message)
    assert {key: line[key] for key in extra} == extra
    assert line["logger"] == logger and line["level"] == "WARNING"


def test_private_fields_and_values_never_reach_the_line(caplog, clock):
    caplog.set_level(logging.INFO)
    token = devtokens.mint(project_id="demo-companion", email="sam@example.org", now=clock.now())
    logging.getLogger("api").info(
        "careless",
        extra={
            "answers": {"phq9-9": 2},
            "note": "Talked about the weekend.",
            "email": "sam@example.org",
            "who": "sam@example.org",
            "header": f"Bearer {token}",
            "count": 3,
        },
    )
    line = formatted(caplog, "careless")
    assert line["count"] == 3
    text = json.dumps(line)
    for secret in ("phq9-9", "weekend", "sam@example.org", token[:20]):
        assert secret not in text


def test_a_request_line_and_a_job_line_carry_their_fields(app, client, caplog, db):
    caplog.set_level(logging.INFO)
    assert client.get("/healthz").status_code == 200
    request = formatted(caplog, "request")
    assert request["method"] == "GET" and request["route"] == "/healthz"
    assert request["status"] == 200 and "duration_ms" in request
    run_job(app, "idempotency-keys.purge")
    job = formatted(caplog, "job done")
    assert job["job"] == "idempotency-keys.purge" and job["count"] >= 0
