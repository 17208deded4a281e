"""PostgreSQL connections cut mid-work (pg_terminate_backend on the app's own backend, at a
chosen statement; the shared server keeps running): nothing half-written, nothing lost,
nothing doubled once the work is retried.

Each test runs on its own fresh database with committed data, because the cut must hit a
real transaction, not the suite's rolled-back outer one. PostgreSQL only (CI requires it).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api import create_app, devtokens
from api.checkins.models import CheckIn
from api.clock import FrozenClock
from api.flags import time_rules
from api.flags.models import Flag
from api.notifications import dispatch
from api.notifications.models import Device, Notification
from api.notifications.service import Planned, enqueue
from api.programs.models import Role
from tests import conftest, databases, factories
from tests.test_notifications import RecordingSender

pytestmark = pytest.mark.skipif(
    "postgresql" not in databases.wanted() or databases.postgres_problem() is not None,
    reason="connection cuts need PostgreSQL (required in CI)",
)
UNSAFE_PHQ9 = {f"phq9-{n}": 1 for n in range(1, 9)} | {"phq9-9": 2}


class Cutter:
    """Terminates the app's backend just before the first statement that `matches` runs."""

    def __init__(self, engine: Engine, admin: Engine) -> None:
        self.engine, self.admin = engine, admin
        self.matches: Callable[[str], bool] | None = None
        self.cuts = 0
        event.listen(engine, "before_cursor_execute", self._before)

    def arm(self, matches: Callable[[str], bool]) -> None:
        self.matches = matches

    def _before(self, connection, _cursor, statement, *_args) -> None:
        if self.matches is None or not self.matches(statement):
            return
        self.matches = None
        pid = connection.connection.dbapi_connection.info.backend_pid
        with self.admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        self.cuts += 1


@pytest.fixture
def fresh(tmp_path) -> Iterator[tuple[str, Engine]]:
    with databases.fresh_database("postgresql", str(tmp_path)) as url:
        databases.upgrade(url)
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        yield url, admin
        admin.dispose()


@pytest.fixture
def app_on(fresh):
    url, admin = fresh
    clock = FrozenClock(factories.NOW)
    application = create_app(conftest.test_config(url, clock, RATELIMIT_PREFIX=uuid.uuid4().hex))
    engine = application.extensions["companion"].db.engine
    yield application, Cutter(engine, admin), clock
    application.extensions["companion"].db.dispose()


def _seed(app, build: Callable[[Session], object]) -> object:
    session = app.extensions["companion"].db.session
    made = build(session)
    session.commit()
    session.remove()
    return made


def _count(app, model, **where) -> int:
    session = app.extensions["companion"].db.session
    found = session.scalar(select(func.count()).select_from(model).filter_by(**where))
    session.remove()
    return found


def test_a_cut_during_a_check_in_writes_nothing_and_the_retry_stores_it_once(app_on):
    app, cutter, clock = app_on

    def world(session):
        program = factories.program(session)
        therapist = factories.member(session, program, Role.THERAPIST)
        factories.member(session, program, Role.STAFF)
        email = factories.unique_email("graduate")
        graduate = factories.graduate(session, program, email=email, therapists=(therapist,))
        return graduate.id, email

    graduate_id, email = _seed(app, world)
    client = app.test_client()
    token = devtokens.mint(project_id="demo-companion", email=email, now=clock.now())
    request = {
        "path": f"/api/v1/graduates/{graduate_id}/check-ins",
        "json": {
            "questionnaire": "phq9",
            "answers": UNSAFE_PHQ9,
            "answered_at": clock.now().isoformat(),
        },
        "headers": {"Authorization": f"Bearer {token}", "Idempotency-Key": "retry-me"},
    }
    cutter.arm(lambda sql: sql.lstrip().upper().startswith("INSERT INTO FLAGS"))
    cut = client.post(**request)
    assert cutter.cuts == 1
    assert cut.status_code == 503 and cut.headers["Retry-After"] == "5"
    assert set(cut.json) >= {"code", "status", "message"}
    assert cut.json["safety"]["positive"] is True  # the phone still shows 988
    assert "INSERT" not in cut.get_data(as_text=True)
    assert _count(app, CheckIn, graduate_id=graduate_id) == 0
    # The care team is told at once all the same: the graduate may never retry.
    assert _count(app, Flag, graduate_id=graduate_id, kind="urgent") == 1

    stored = client.post(**request)
    assert stored.status_code == 201, stored.json
    again = client.post(**request)
    assert again.status_code == 201 and again.json["id"] == stored.json["id"]
    assert _count(app, CheckIn, graduate_id=graduate_id) == 1
    session = app.extensions["companion"].db.session
    [flag] = session.scalars(
        select(Flag).where(Flag.graduate_id == graduate_id, Flag.kind == "urgent")
    )
    assert flag.kind == "urgent" and flag.evidence == [stored.json["id"]]  # completed, not doubled
    session.remove()


def test_a_cut_during_the_daily_flag_run_leaves_no_flag_missing_or_doubled(app_on):
    app, cutter, clock = app_on

    def world(session):
        program = factories.program(session)
        # Months 2-3, never a request since graduation: disengaged by inactivity.
        return [
            factories.graduate(session, program, graduation_date=date(2026, 9, 20)).id
            for _ in range(6)
        ]

    graduate_ids = _seed(app, world)
    session = app.extensions["companion"].db.session
    cutter.arm(lambda sql: sql.lstrip().upper().startswith("INSERT INTO FLAGS"))
    with pytest.raises(OperationalError):
        time_rules.run_daily(session=session, now=clock.now(), batch_size=4)
    session.rollback()
    session.remove()
    assert cutter.cuts == 1

    time_rules.run_daily(session=session, now=clock.now(), batch_size=4)
    session.commit()
    session.remove()
    for graduate_id in graduate_ids:
        assert _count(app, Flag, graduate_id=graduate_id, kind="disengaged") == 1
    time_rules.run_daily(session=session, now=clock.now() + timedelta(hours=1), batch_size=4)
    session.commit()
    session.remove()
    assert _count(app, Flag, kind="disengaged") == len(graduate_ids)


def test_a_cut_while_recording_a_batch_loses_nothing_and_records_each_push_once(app_on):
    app, cutter, clock = app_on

    def world(session):
        program = factories.program(session)
        users = []
        for n in range(5):
            graduate = factories.graduate(session, program)
            session.add(
                Device(
                    user_id=graduate.user_id,
                    token=f"token-{n}",
                    platform="android",
                    created_at=clock.now(),
                    last_seen_at=clock.now(),
                )
            )
            users.append((graduate.user_id, graduate.id))
        enqueue(
            session,
            items=[
                Planned(user_id, "skill_practice", "fault:1", clock.now(), graduate_id=graduate_id)
                for user_id, graduate_id in users
            ],
            now=clock.now(),
        )

    _seed(app, world)
    sender = RecordingSender()
    first = dispatch.for_app(app, sender=sender, name="cut", rng=random.Random(1))
    cutter.arm(lambda sql: sql.lstrip().upper().startswith("UPDATE NOTIFICATIONS"))
    with pytest.raises(OperationalError):
        first.drain()
    app.extensions["companion"].db.session.remove()
    assert cutter.cuts == 1

    clock.advance(minutes=6)  # the cut dispatcher's lease runs out
    survivor = dispatch.for_app(app, sender=sender, name="survivor", rng=random.Random(2))
    survivor.drain()
    app.extensions["companion"].db.session.remove()
    assert _count(app, Notification, status="sent") == 5
    assert _count(app, Notification) == 5
    sent_ids = {push.notification_id for push in sender.pushes}
    assert len(sent_ids) == 5  # at least once to FCM; exactly once in our records


def _drop_every_connection(admin: Engine) -> int:
    """What a server restart does to the app's pool: every connection it holds is dead."""
    with admin.connect() as connection:
        return len(
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        )


@pytest.fixture
def restartable(fresh, monkeypatch):
    """An app on a fresh database, a graduate's check-in request, and counts of the pool's
    pings and of the statements that found their connection dead."""
    url, _ = fresh

    def make(ping_after_idle_seconds: str):
        clock = FrozenClock(factories.NOW)
        application = create_app(
            conftest.test_config(
                url,
                clock,
                RATELIMIT_PREFIX=uuid.uuid4().hex,
                DB_PING_AFTER_IDLE_SECONDS=ping_after_idle_seconds,
            )
        )
        engine = application.extensions["companion"].db.engine
        seen = {"pings": 0, "dead": 0}
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection):
            seen["pings"] += 1
            return ping(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
        event.listen(engine, "handle_error", lambda context: seen.update(dead=seen["dead"] + 1))

        def world(session):
            email = factories.unique_email("graduate")
            return factories.graduate(session, factories.program(session), email=email).id, email

        graduate_id, email = _seed(application, world)
        token = devtokens.mint(project_id="demo-companion", email=email, now=clock.now())

        def submit(key: str):
            return application.test_client().post(
                f"/api/v1/graduates/{graduate_id}/check-ins",
                json={
                    "questionnaire": "phq9",
                    "answers": {f"phq9-{n}": 0 for n in range(1, 10)},
                    "answered_at": clock.now().isoformat(),
                },
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )

        return application, submit, seen

    made = []
    yield lambda seconds: made.append(make(seconds)) or made[-1]
    for application, _, _ in made:
        application.extensions["companion"].db.dispose()


def test_a_busy_pool_is_not_pinged_and_a_restart_costs_no_request(restartable, fresh):
    app, submit, seen = restartable("3600")
    assert [submit(key).status_code for key in ("a", "b", "c")] == [201] * 3
    assert seen == {"pings": 0, "dead": 0}  # no round trip spent on a ping per request
    assert _drop_every_connection(fresh[1]) >= 1
    stored = submit("d")
    assert stored.status_code == 201, stored.json  # not a 503
    assert seen == {"pings": 0, "dead": 1}  # sign-in found the dead connection, and ran again
    assert _count(app, CheckIn) == 4


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_before_use(restartable, fresh):
    app, submit, seen = restartable("0")  # every connection counts as idle
    assert submit("a").status_code == 201
    assert _drop_every_connection(fresh[1]) >= 1
    pings = seen["pings"]
    stored = submit("b")
    assert stored.status_code == 201, stored.json
    assert seen["pings"] > pings and seen["dead"] == 0  # replaced before any statement ran
    assert _count(app, CheckIn) == 2
