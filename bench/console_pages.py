"""Server time per console page on PostgreSQL, for a therapist with a caseload of 200.

    .venv/bin/python -m bench.console_pages [--graduates 200] [--requests 60]

Seeds a throwaway database (200 consenting graduates with PHQ-9 and GAD-7 history, an open
flag for every fifth, one graduate with weeks of check-ins, a plan and a weekly summary),
signs in through the development form, then requests each page N times in-process and
prints p50 / p95 server time and the SQL statements per request. Goal: p95 <= 100 ms for
the caseload, flag and graduate pages. Then the same for a coordinator ("co") and staff
("st") of a second program of the same size (a group seating 40 with four weeks of
registers, and an audit trail). Informational only: it always exits 0. The database on
127.0.0.1:5432 is dropped afterwards.
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import time
from contextlib import ExitStack
from datetime import timedelta

from sqlalchemy import event, select

from api import create_app, migrate
from api.clock import FrozenClock
from api.flags.models import Flag
from api.programs.models import Role
from bench.request_overhead import _throwaway_postgres
from jobs.scheduler import run_job
from tests import factories

GOAL_MS = 100


def _seed(app, size: int) -> tuple[str, dict[str, str]]:
    session = app.extensions["companion"].db.session
    program = factories.program(session, "Bench IOP")
    therapist = factories.member(session, program, Role.THERAPIST)
    graduates = factories.caseload(session, program, therapist, size)
    session.commit()
    flag_id = session.scalar(select(Flag.id).where(Flag.graduate_id == graduates[0].id).limit(1))
    return therapist.email, {
        "caseload": "/console/caseload",
        "flags": "/console/flags",
        "flag": f"/console/flags/{flag_id}",
        "graduate": f"/console/graduates/{graduates[0].id}",
        "plan": f"/console/graduates/{graduates[0].id}/plan",
        "summaries": "/console/summaries",
    }


def _seed_program(app, size: int) -> list[tuple[str, str, str]]:
    """The coordinator's and staff's pages over `tests.test_console_programs.busy_program`."""
    from tests.test_console_programs import busy_program

    seeded = busy_program(app.extensions["companion"].db.session, size)
    names = ("groups", "group", "meeting")
    pages = [
        (seeded["coordinator"], f"co {n}", p)
        for n, p in zip(names, seeded["coordinator_pages"], strict=True)
    ]
    staff_names = (
        "graduates",
        "flag-rules",
        "audit",
        "audit filter",
        "audit.csv",
        "settings",
        "members",
        "graduate",
    )
    for name, path in zip(staff_names, seeded["staff_pages"][3:], strict=True):
        pages.append((seeded["staff"], f"st {name}", path))
    return pages


def _sign_in(client, email: str) -> None:
    form = client.get("/console/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = client.post("/console/sign-in", data={"email": email, "csrf_token": token})
    assert signed.status_code == 303, signed.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graduates", type=int, default=200)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = _throwaway_postgres(stack)
        migrate.upgrade(url)
        clock = FrozenClock(factories.NOW)
        app = create_app(
            {
                "COMPANION_ENV": "test",
                "DATABASE_URL": url,
                "LOG_LEVEL": "WARNING",
                "WRITE_LIMIT": "100000 per minute",
                "CLOCK": clock,
            }
        )
        stack.callback(app.extensions["companion"].db.dispose)
        gc.collect()
        gc.freeze()  # as wsgi.py does for the web workers
        with app.app_context():
            email, pages = _seed(app, args.graduates)
            clock.set(factories.NOW + timedelta(days=7))  # the Monday after: summaries
            run_job(app, "summaries.weekly")
            others = _seed_program(app, args.graduates)
        clients = {}
        for who, _, _ in [(email, None, None), *others]:
            if who not in clients:
                clients[who] = app.test_client()
                _sign_in(clients[who], who)
        visits = [(email, name, path) for name, path in pages.items()] + others
        engine = app.extensions["companion"].db.engine
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        print(f"console pages, caseload of {args.graduates}, {args.requests} requests each")
        print(f"{'page':<14} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>4}  goal p95 <= {GOAL_MS} ms")
        for who, name, path in visits:
            client = clients[who]
            client.get(path)  # warm: templates compiled, statements cached
            times = []
            for _ in range(args.requests):
                statements.clear()
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            p95 = statistics.quantiles(times, n=20)[18]
            print(
                f"{name:<14} {statistics.median(times):8.1f} {p95:8.1f} {len(statements):4d}"
                f"  {'ok' if p95 <= GOAL_MS else 'over'}"
            )


if __name__ == "__main__":
    main()
