"""What sign-in, access checks and auditing cost per request, against a floor in the same run.

    .venv/bin/python -m bench.request_overhead [--postgres] [--rounds 2000]

Interleaves three requests through the in-process WSGI app, round after round:
  floor    GET /healthz                  (routing, hooks, JSON; no auth, no database)
  me       GET /api/v1/me                (token checks, user + memberships + graduate lookups)
  audited  GET /api/v1/graduates/{id}    (as staff: the above, the access check, an audit insert)
  today    GET /api/v1/graduates/{id}/today  (as the graduate, whose demo plan has two recurring
                                         appointments and three skills: the phone's opening call)
and prints each one's median and p95 in ms, its ratio to the floor, and SQL statements per
request. Timing never goes into a pass/fail test; this only reports.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack

from sqlalchemy import create_engine, event, select, text

from api import create_app, demo, devtokens, migrate
from api.clock import SystemClock
from api.graduates.models import Graduate

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _throwaway_postgres(stack: ExitStack) -> str:
    name = f"companion_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _seed(app) -> tuple[str, str, str]:
    """The demo program; returns (staff email, graduate email, graduate id)."""
    runtime = app.extensions["companion"]
    session = runtime.db.session
    program = demo.seed(session=session, content=runtime.content, now=runtime.clock.now())
    session.commit()
    maya = session.scalar(
        select(Graduate).where(Graduate.program_id == program.id, Graduate.display_name == "Maya")
    )
    return "staff@demo.example", "maya@demo.example", str(maya.id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL DB")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    with ExitStack() as stack:
        if args.postgres:
            url = _throwaway_postgres(stack)
        else:
            url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.db"
        migrate.upgrade(url)
        app = create_app({"COMPANION_ENV": "test", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        stack.callback(app.extensions["companion"].db.dispose)
        staff_email, graduate_email, graduate_id = _seed(app)
        project = app.extensions["companion"].settings.firebase_project_id
        now = SystemClock().now()
        staff = devtokens.mint(project_id=project, email=staff_email, now=now)
        graduate = devtokens.mint(project_id=project, email=graduate_email, now=now)
        client = app.test_client()

        statements = 0

        @event.listens_for(app.extensions["companion"].db.engine, "before_cursor_execute")
        def _count(*_args) -> None:
            nonlocal statements
            statements += 1

        cases = {
            "floor": ("/healthz", {}),
            "me": ("/api/v1/me", {"Authorization": f"Bearer {staff}"}),
            "audited": (f"/api/v1/graduates/{graduate_id}", {"Authorization": f"Bearer {staff}"}),
            "today": (
                f"/api/v1/graduates/{graduate_id}/today",
                {"Authorization": f"Bearer {graduate}"},
            ),
        }
        timings: dict[str, list[float]] = {name: [] for name in cases}
        counts: dict[str, int] = dict.fromkeys(cases, 0)
        for round_number in range(args.rounds + 50):
            for name, (url_path, headers) in cases.items():
                before = statements
                started = time.perf_counter()
                response = client.get(url_path, headers=headers)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.json
                if round_number >= 50:  # warm-up rounds are not counted
                    timings[name].append(elapsed * 1000)
                    counts[name] += statements - before

        floor = statistics.median(timings["floor"])
        print(f"database: {'postgresql' if args.postgres else 'sqlite'}, rounds: {args.rounds}")
        print(f"{'case':<8} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8} {'SQL/req':>8}")
        for name, samples in timings.items():
            p50 = statistics.median(samples)
            p95 = statistics.quantiles(samples, n=20)[-1]
            print(
                f"{name:<8} {p50:8.3f} {p95:8.3f} {p50 / floor:8.2f} "
                f"{counts[name] / args.rounds:8.1f}"
            )


if __name__ == "__main__":
    main()
