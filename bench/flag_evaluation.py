"""Flag evaluation cost for a graduate with 1 prior check-in and one with 1,000, interleaved.

    .venv/bin/python -m bench.flag_evaluation [--database both|postgresql|sqlite] [--repeat 300]

For each repetition and each graduate (the order alternates), a new PHQ-9 is inserted and
flushed, then api.flags.service.evaluate_check_in runs, timed, with the flags it raises
flushed; the transaction is rolled back, so every repetition sees the same history. Two
cases: "quiet" (the score of every earlier check-in: no flag) and "watch" (6 points above
the discharge baseline: a watch flag is raised, so the raising queries are timed too). The
1,000 prior check-ins are all PHQ-9s (the instrument evaluated: the worst case for the index).

Prints the median and p95 in ms, SQL statements per evaluation (BEGIN/SAVEPOINT/RELEASE...
not counted), the ratio 1,000 / 1 per case (issue #6: at most 1.2), and on PostgreSQL the
plan of the query that reads the earlier check-ins. Informational only: always exits 0.
A throwaway PostgreSQL database and a temporary SQLite file are created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert

from api import migrate
from api.checkins.models import CheckIn
from api.db import Database
from api.flags.service import evaluate_check_in
from api.graduates.models import Graduate
from api.programs.models import Program
from bench.checkin_throughput import _prior_check_ins
from bench.request_overhead import _throwaway_postgres

GOAL = 1.2
WARM_UP = 20
PRIORS = (1, 1000)
NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
CASES = {
    "quiet": {f"phq9-{n}": 1 for n in range(1, 9)} | {"phq9-9": 0},  # 8, as every prior one
    "watch": {f"phq9-{n}": 2 for n in range(1, 8)} | {"phq9-8": 0, "phq9-9": 0},  # 14
}
SCORES = {"quiet": 8, "watch": 14}


def seed(database: Database, now: datetime) -> dict[int, uuid.UUID]:
    """One graduate per count in PRIORS, baseline PHQ-9 8, with that many earlier PHQ-9s."""
    session = database.session()
    program = Program(name="Bench", created_at=now)
    session.add(program)
    session.flush()
    graduates = {}
    for prior in PRIORS:
        graduate = Graduate(
            program_id=program.id,
            display_name=f"{prior} prior",
            graduation_date=(now - timedelta(days=60)).date(),
            timezone="America/Chicago",
            substance_use=False,
            baseline_phq9=8,
            baseline_gad7=6,
            created_at=now - timedelta(days=60),
            last_active_at=now,
        )
        session.add(graduate)
        session.flush()
        session.execute(insert(CheckIn), _prior_check_ins(graduate.id, prior, now))
        graduates[prior] = graduate.id
    session.commit()
    database.session.remove()
    return graduates


class Counter:
    """Statements sent while `on`; keeps the first one that reads earlier check-ins."""

    def __init__(self) -> None:
        self.on, self.count = False, 0
        self.history_query: tuple[str, Any] | None = None

    def __call__(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if not self.on or statement.lstrip().upper().startswith(NOT_COUNTED):
            return
        self.count += 1
        if self.history_query is None and "FROM check_ins" in statement:
            self.history_query = (statement, parameters)


def evaluate_once(
    database: Database, counter: Counter, graduate_id: uuid.UUID, case: str, now: datetime
) -> tuple[float, int]:
    """Seconds and statements for one evaluation of a new check-in, rolled back after."""
    session = database.session()
    try:
        graduate = session.get(Graduate, graduate_id)
        assert graduate is not None
        check_in = CheckIn(
            graduate_id=graduate_id,
            questionnaire="phq9",
            form_version="2026.1",
            answered_at=now,
            submitted_at=now,
            answers=CASES[case],
            score=SCORES[case],
            band="moderate" if SCORES[case] >= 10 else "mild",
            subscales=None,
            safety_positive=False,
            part2=False,
        )
        session.add(check_in)
        session.flush()
        counter.on, counter.count = True, 0
        started = time.perf_counter()
        raised = evaluate_check_in(session=session, graduate=graduate, check_in=check_in, now=now)
        session.flush()
        elapsed = time.perf_counter() - started
        counter.on = False
        assert len(raised) == (case == "watch"), raised
        return elapsed, counter.count
    finally:
        counter.on = False
        session.rollback()
        database.session.remove()


def measure(database: Database, repeat: int) -> dict[tuple[str, int], dict[str, Any]]:
    now = datetime.now(UTC).replace(microsecond=0)
    graduates = seed(database, now)
    counter = Counter()
    event.listen(database.engine, "before_cursor_execute", counter)
    samples: dict[tuple[str, int], list[float]] = {(c, p): [] for c in CASES for p in PRIORS}
    statements: dict[tuple[str, int], set[int]] = {key: set() for key in samples}
    try:
        for rep in range(WARM_UP + repeat):
            order = PRIORS if rep % 2 == 0 else PRIORS[::-1]
            for case in CASES:
                for prior in order:
                    seconds, count = evaluate_once(database, counter, graduates[prior], case, now)
                    if rep >= WARM_UP:
                        samples[case, prior].append(seconds)
                        statements[case, prior].add(count)
    finally:
        event.remove(database.engine, "before_cursor_execute", counter)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for key, values in samples.items():
        ordered = sorted(values)
        results[key] = {
            "median": statistics.median(ordered) * 1000,
            "p95": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
            "statements": sorted(statements[key]),
        }
    results[("plan", 0)] = {"plan": plan(database, counter, graduates[PRIORS[-1]], now)}
    return results


def plan(database: Database, counter: Counter, graduate_id: uuid.UUID, now: datetime) -> str:
    """EXPLAIN ANALYZE of the earlier-check-ins query for the longest history (PostgreSQL)."""
    if database.engine.dialect.name != "postgresql" or counter.history_query is None:
        return ""
    counter.history_query = None
    event.listen(database.engine, "before_cursor_execute", counter)
    try:
        evaluate_once(database, counter, graduate_id, "quiet", now)
    finally:
        event.remove(database.engine, "before_cursor_execute", counter)
    assert counter.history_query is not None
    statement, parameters = counter.history_query
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN ANALYZE {statement}", parameters)
        return "\n".join(f"    {row[0]}" for row in rows)


def report(name: str, results: dict[tuple[str, int], dict[str, Any]], repeat: int) -> None:
    print(f"{name}: evaluate_check_in for a new PHQ-9, {repeat} interleaved repetitions")
    print(f"  {'case':<7} {'prior':>6} {'median ms':>10} {'p95 ms':>8} {'statements':>11}")
    for case in CASES:
        for prior in PRIORS:
            found = results[case, prior]
            counts = "/".join(str(n) for n in found["statements"])
            print(
                f"  {case:<7} {prior:>6,} {found['median']:10.3f} {found['p95']:8.3f} {counts:>11}"
            )
    for case in CASES:
        few, many = results[case, PRIORS[0]], results[case, PRIORS[-1]]
        ratio = many["median"] / few["median"]
        same = few["statements"] == many["statements"]
        verdict = "PASS" if ratio <= GOAL and same else "MISS"
        print(
            f"  ratio 1,000 / 1 ({case}): {ratio:.2f}; statements the same: {same}  "
            f"(goal <= {GOAL}: {verdict})"
        )
    if results["plan", 0]["plan"]:
        print("  earlier check-ins, 1,000 prior (EXPLAIN ANALYZE):")
        print(results["plan", 0]["plan"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("both", "postgresql", "sqlite"), default="both")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    kinds = ("postgresql", "sqlite") if args.database == "both" else (args.database,)
    for kind in kinds:
        with ExitStack() as stack:
            if kind == "postgresql":
                url = _throwaway_postgres(stack)
            else:
                url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.db"
            migrate.upgrade(url)
            database = Database(url)
            stack.callback(database.dispose)
            results = measure(database, args.repeat)
        report("PostgreSQL" if kind == "postgresql" else "SQLite", results, args.repeat)


if __name__ == "__main__":
    main()
