"""Flag evaluation cost with 1 vs 1,000 earlier check-ins for the graduate, interleaved.

    .venv/bin/python -m bench.flag_evaluation [--database both|postgresql|sqlite] [--repeat 300]

Three graduates: 1 earlier PHQ-9 (the reference), 1,000 earlier PHQ-9s (the worst case for
an index on the instrument) and 1,000 earlier check-ins as they come (dailies, with a PHQ-9
and a GAD-7 every 14th day). For each repetition and graduate (the order rotates), a new
PHQ-9 is inserted and flushed, then api.flags.service.evaluate_check_in runs, timed, with
the flags it raises flushed; the transaction is rolled back, so every repetition sees the
same history. Two cases: "quiet" (the score of every earlier PHQ-9: no flag) and "watch"
(6 points above the discharge baseline: a watch is raised, so raising is timed too).

Prints the median and p95 in ms, SQL statements per evaluation (BEGIN/SAVEPOINT/RELEASE...
not counted), the ratios to the reference per case (issue #6: at most 1.2), and the plan of the
query that reads the earlier check-ins (EXPLAIN ANALYZE; EXPLAIN QUERY PLAN on SQLite).
Informational only: always exits 0.
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
from api.flags.rules import Point
from api.flags.service import evaluate_check_in
from api.graduates.models import Graduate
from api.programs.models import Program
from bench.request_overhead import _throwaway_postgres

GOAL = 1.2
WARM_UP = 20
# Earlier check-ins per graduate: the first is the reference for the ratios.
HISTORIES = ("1 PHQ-9", "1,000 PHQ-9", "1,000 mixed")
NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
ANSWERS = {
    "phq9": {f"phq9-{n}": 1 for n in range(1, 9)} | {"phq9-9": 0},  # 8, the baseline
    "gad7": {f"gad7-{n}": 1 for n in range(1, 7)} | {"gad7-7": 0},  # 6, the baseline
    "daily": {"mood": 6, "phq2": 1, "gad2": 1, "sleep": 3, "safe": 1},
}
CASES = {
    "quiet": ANSWERS["phq9"],  # 8, as every earlier PHQ-9: no flag
    "watch": {f"phq9-{n}": 2 for n in range(1, 8)} | {"phq9-8": 0, "phq9-9": 0},  # 14
}
SCORES = {"quiet": 8, "watch": 14}


def history(graduate_id: uuid.UUID, name: str, now: datetime) -> list[dict[str, Any]]:
    """ "1 PHQ-9" and "1,000 PHQ-9": PHQ-9s every 80 minutes back from a day ago (the worst
    case for an index on the instrument). "1,000 mixed": a daily check-in every evening back
    from yesterday, with a PHQ-9 and a GAD-7 every 14th day (what 1,000 look like)."""
    if name != "1,000 mixed":
        count = 1 if name == "1 PHQ-9" else 1000
        times = [(now - timedelta(days=1, minutes=80 * n), "phq9") for n in range(count)]
    else:
        times = []
        for day in range(1, 1000):
            evening = now - timedelta(days=day, hours=2)
            forms = ("daily", "phq9", "gad7") if day % 14 == 0 else ("daily",)
            times += [(evening - timedelta(minutes=n), form) for n, form in enumerate(forms)]
        times = times[:1000]
    return [
        {
            "id": uuid.uuid4(),
            "graduate_id": graduate_id,
            "questionnaire": form,
            "form_version": "2026.1",
            "answered_at": at,
            "submitted_at": at,
            "answers": ANSWERS[form],
            "score": {"phq9": 8, "gad7": 6}.get(form),
            "band": "mild" if form != "daily" else None,
            "subscales": {"phq2": 1, "gad2": 1} if form == "daily" else None,
            "safety_positive": False,
            "part2": False,
        }
        for at, form in times
    ]


def seed(database: Database, now: datetime) -> dict[str, uuid.UUID]:
    """One graduate per history, baseline PHQ-9 8 and GAD-7 6."""
    session = database.session()
    program = Program(name="Bench", created_at=now)
    session.add(program)
    session.flush()
    graduates = {}
    for name in HISTORIES:
        graduate = Graduate(
            program_id=program.id,
            display_name=name,
            graduation_date=(now - timedelta(days=1000)).date(),
            timezone="America/Chicago",
            substance_use=False,
            baseline_phq9=8,
            baseline_gad7=6,
            created_at=now - timedelta(days=1000),
            last_active_at=now,
        )
        session.add(graduate)
        session.flush()
        session.execute(insert(CheckIn), history(graduate.id, name, now))
        graduates[name] = graduate.id
    session.commit()
    database.session.remove()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")  # planner statistics, as a live database has
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
        raised = evaluate_check_in(
            session=session,
            graduate=graduate,
            point=Point(
                id=check_in.id,
                questionnaire=check_in.questionnaire,
                score=check_in.score,
                subscales=check_in.subscales,
                answers=check_in.answers,
                safety_positive=check_in.safety_positive,
            ),
            answered_at=check_in.answered_at,
            now=now,
        )
        session.flush()
        elapsed = time.perf_counter() - started
        counter.on = False
        assert len(raised) == (case == "watch"), raised
        return elapsed, counter.count
    finally:
        counter.on = False
        session.rollback()
        database.session.remove()


def measure(database: Database, repeat: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    graduates = seed(database, now)
    counter = Counter()
    event.listen(database.engine, "before_cursor_execute", counter)
    samples: dict[tuple[str, str], list[float]] = {(c, h): [] for c in CASES for h in HISTORIES}
    statements: dict[tuple[str, str], set[int]] = {key: set() for key in samples}
    try:
        for rep in range(WARM_UP + repeat):
            shift = rep % len(HISTORIES)  # rotated, so drift and noise hit every history
            for case in CASES:
                for name in HISTORIES[shift:] + HISTORIES[:shift]:
                    seconds, count = evaluate_once(database, counter, graduates[name], case, now)
                    if rep >= WARM_UP:
                        samples[case, name].append(seconds)
                        statements[case, name].add(count)
    finally:
        event.remove(database.engine, "before_cursor_execute", counter)
    found: dict[str, Any] = {"plans": {}}
    for key, values in samples.items():
        ordered = sorted(values)
        found[key] = {
            "median": statistics.median(ordered) * 1000,
            "p95": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
            "statements": sorted(statements[key]),
        }
    for name in HISTORIES[1:]:
        found["plans"][name] = plan(database, graduates[name], now)
    return found


def plan(database: Database, graduate_id: uuid.UUID, now: datetime) -> str:
    """The plan of the query that reads the earlier check-ins, as the evaluation sends it."""
    counter = Counter()
    event.listen(database.engine, "before_cursor_execute", counter)
    try:
        evaluate_once(database, counter, graduate_id, "quiet", now)
    finally:
        event.remove(database.engine, "before_cursor_execute", counter)
    assert counter.history_query is not None
    statement, parameters = counter.history_query
    with database.engine.connect() as connection:
        if database.engine.dialect.name == "postgresql":
            rows = connection.exec_driver_sql(f"EXPLAIN ANALYZE {statement}", parameters)
            return "\n".join(f"    {row[0]}" for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(f"    {row[-1]}" for row in rows)


def report(name: str, found: dict[str, Any], repeat: int) -> None:
    print(f"{name}: evaluate_check_in for a new PHQ-9, {repeat} rotated repetitions")
    print(f"  {'case':<7} {'earlier':<12} {'median ms':>10} {'p95 ms':>8} {'statements':>11}")
    for case in CASES:
        for history_name in HISTORIES:
            row = found[case, history_name]
            counts = "/".join(str(n) for n in row["statements"])
            print(
                f"  {case:<7} {history_name:<12} {row['median']:10.3f} {row['p95']:8.3f} "
                f"{counts:>11}"
            )
    reference = HISTORIES[0]
    for case in CASES:
        for history_name in HISTORIES[1:]:
            few, many = found[case, reference], found[case, history_name]
            ratio = many["median"] / few["median"]
            same = few["statements"] == many["statements"]
            verdict = "PASS" if ratio <= GOAL and same else "MISS"
            print(
                f"  ratio {history_name} / {reference} ({case}): {ratio:.2f}, same statements: "
                f"{same}  (goal <= {GOAL}: {verdict})"
            )
    for history_name, text in found["plans"].items():
        print(f"  plan of the earlier check-ins query, {history_name}:")
        print(text)


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
