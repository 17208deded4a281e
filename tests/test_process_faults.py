"""Processes killed with SIGKILL mid-work: a dispatcher holding a claimed batch, and the
scheduler mid-way through planning reminders. Afterwards nothing is lost and nothing is
recorded or planned twice. Real subprocesses on a fresh PostgreSQL database (the only
database several processes share); PostgreSQL only, required in CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api.clock import FrozenClock
from api.notifications import senders
from api.notifications.dispatch import Dispatcher
from api.notifications.models import Notification
from api.notifications.service import Planned, enqueue
from api.reminders import planner
from bench.fake_fcm import FakeFcm
from tests import databases, factories

pytestmark = pytest.mark.skipif(
    "postgresql" not in databases.wanted() or databases.postgres_problem() is not None,
    reason="several processes on one database need PostgreSQL (required in CI)",
)
PROJECT_DIR = Path(__file__).resolve().parent.parent
WAIT_LIMIT = 60.0  # seconds a child may take to reach the point where it is killed


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    with databases.migrated_postgres(str(tmp_path)) as engine:
        yield engine


def _crowd(engine, count: int, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    with Session(engine) as session:
        people = factories.reminder_crowd(session, count, now)
        session.commit()
    return people


def _child(engine, args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "COMPANION_ENV": "test",
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "RATELIMIT_PREFIX": uuid.uuid4().hex,
            "LOG_LEVEL": "WARNING",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(child: subprocess.Popen, ready: Callable[[], bool]) -> None:
    """SIGKILL the child as soon as `ready()` holds (it is polled: the child is another
    process, so there is no in-process hook to wait on)."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not ready():
        assert child.poll() is None, "the child finished before it could be killed"
        assert time.monotonic() < deadline, "the child never reached the point to kill it"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)


def _count(engine, *where) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Notification).where(*where))


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_records_each_push_once(engine, tmp_path):
    now = datetime.now(UTC)
    people = _crowd(engine, 40, now)
    with Session(engine) as session:
        enqueue(
            session,
            items=[
                Planned(u, "skill_practice", "kill:1", now - timedelta(minutes=1), graduate_id=g)
                for u, g in people
            ],
            now=now,
        )
        session.commit()
    with FakeFcm() as fcm:
        credentials = tmp_path / "service-account.json"
        credentials.write_text(json.dumps(fcm.service_account()))
        fcm.fail("timeout", hold=30.0)  # every send hangs: the batch is in the child's hands
        child = _child(
            engine,
            ["-m", "jobs.dispatcher", "--once"],
            PUSH_SENDER="fcm",
            FCM_BASE_URL=fcm.url,
            FCM_CREDENTIALS=str(credentials),
            FCM_TIMEOUT_SECONDS="60",
        )
        _kill_when(child, lambda: sum(fcm.attempts.values()) > 0)
        fcm.heal()
        claimed = _count(engine, Notification.status == "claimed")
        assert claimed > 0  # the dead dispatcher's claims are still there

        sender = senders.FcmSender(
            project_id=fcm.project_id,
            credentials=fcm.service_account(),
            base_url=fcm.url,
            env="test",
            timeout=10.0,
        )
        survivor_session = Session(engine)
        survivor = Dispatcher(
            session_factory=lambda: survivor_session,
            sender=sender,
            clock=FrozenClock(now + timedelta(minutes=10)),  # after the lease
            name="survivor",
        )
        survivor.drain()
        survivor_session.close()
        sender.close()
        stats = fcm.stats()
    assert _count(engine, Notification.status == "sent") == len(people)
    assert _count(engine) == len(people)
    assert stats["distinct"] == len(people)  # at least once to FCM, once in our records


def test_a_scheduler_killed_mid_plan_leaves_no_duplicates_and_the_rerun_misses_nothing(engine):
    people = _crowd(engine, 3 * planner.BATCH, datetime.now(UTC))
    child = _child(engine, ["-m", "flask", "--app", "wsgi", "jobs", "run-once"])
    _kill_when(child, lambda: _count(engine) > 0)  # a batch committed, the run not finished
    with Session(engine) as session:
        planner.run(session=session, now=datetime.now(UTC))
        session.commit()
        assert planner.plan(session, now=datetime.now(UTC)) == 0  # nothing left to plan
        duplicates = session.scalar(
            select(func.count()).select_from(
                select(Notification.user_id, Notification.kind, Notification.subject)
                .group_by(Notification.user_id, Notification.kind, Notification.subject)
                .having(func.count() > 1)
                .subquery()
            )
        )
        planned_for = session.scalar(select(func.count(func.distinct(Notification.user_id))))
    assert duplicates == 0
    assert planned_for == len(people)
