"""The realistic mix for bench/load_mix.py: graduates using the app, therapists reading.

Run by bench/load_mix.py (which seeds the people and starts gunicorn); by hand:

    LOAD_PEOPLE=people.json .venv/bin/locust -f bench/locustfile.py --headless \
        --host http://127.0.0.1:8000 -u 200 -r 50 -t 60s

LOAD_PEOPLE names a JSON file: {"project_id", "graduates": [{"email", "graduate_id"}],
"therapists": [{"email"}]}. Each simulated person takes one real identity (an emulator
token, as the app accepts in COMPANION_ENV=test), so per-person rate limits and access
checks apply as they would to real people.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from locust import HttpUser, between, task

from api import devtokens

PEOPLE = json.loads(Path(os.environ["LOAD_PEOPLE"]).read_text(encoding="utf-8"))
_graduates = itertools.cycle(PEOPLE["graduates"])
_therapists = itertools.cycle(PEOPLE["therapists"])


def _token(email: str) -> str:
    return devtokens.mint(
        project_id=PEOPLE["project_id"],
        email=email,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=1),
    )


class Graduate(HttpUser):
    """Opens the app (today), checks in, looks at trends: several times a day, compressed."""

    weight = 9
    wait_time = between(1, 4)

    def on_start(self) -> None:
        person = next(_graduates)
        self.base = f"/api/v1/graduates/{person['graduate_id']}"
        self.client.headers["Authorization"] = f"Bearer {_token(person['email'])}"

    @task(5)
    def open_app(self) -> None:
        self.client.get("/api/v1/me", name="/me")
        self.client.get(f"{self.base}/today", name="/graduates/{id}/today")

    @task(2)
    def check_in(self) -> None:
        answers = {
            "daily-mood": random.randint(4, 9),
            "phq2-1": random.randint(0, 1),
            "phq2-2": random.randint(0, 1),
            "gad2-1": random.randint(0, 1),
            "gad2-2": random.randint(0, 1),
            "daily-safe": 1,
        }
        self.client.post(
            f"{self.base}/check-ins",
            json={
                "questionnaire": "daily",
                "answers": answers,
                "answered_at": datetime.now(UTC).isoformat(),
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
            name="/graduates/{id}/check-ins [POST]",
        )

    @task(2)
    def trends(self) -> None:
        instrument = random.choice(("phq9", "daily"))
        self.client.get(
            f"{self.base}/trends",
            params={"instrument": instrument},
            name="/graduates/{id}/trends",
        )

    @task(1)
    def history(self) -> None:
        self.client.get(f"{self.base}/check-ins", name="/graduates/{id}/check-ins")


class Therapist(HttpUser):
    """The clinician console: open flags, the summaries inbox, the caseload overview."""

    weight = 1
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {_token(next(_therapists)['email'])}"

    @task(3)
    def flags(self) -> None:
        self.client.get("/api/v1/flags", name="/flags")

    @task(2)
    def summaries(self) -> None:
        inbox = self.client.get("/api/v1/summaries", name="/summaries")
        items = inbox.json() if inbox.ok else []
        if items:
            summary = random.choice(items)
            self.client.get(f"/api/v1/summaries/{summary['id']}", name="/summaries/{id}")

    @task(1)
    def caseload(self) -> None:
        self.client.get("/api/v1/summaries/caseload", name="/summaries/caseload")
