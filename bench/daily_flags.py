"""The daily time-based flag run for many graduates on PostgreSQL, against a floor in the same run.

    .venv/bin/python -m bench.daily_flags [--graduates 100000] [--batch-size 2000]

Seeds a throwaway database (migrated with api.migrate) in SQL, server-side: graduates from
5 days before graduation to 400 days after (every phase), in eight time zones, a third in
substance-use care; six months of PHQ-9, GAD-7 (and BAM) answered on each due date of the
graduate's cadence, and two weeks of some daily check-ins; 3 % disengaged (quiet for 30
days, no forms for 6 weeks); a quarter with a weekly appointment and six reports (1 in 25
of those missed the last two); 2 % with an open watch. Then, with the statements counted:
  floor   SELECT the same graduates and their full forms in the same window, rows fetched
          (no ORM, no rules), measured before and after the run; the faster one counts
  run     api.flags.time_rules.run_daily in its own session, as jobs/scheduler.py runs it:
          day 1 raises every flag anew (the worst case), day 2 (a day later) mostly merges
          into the flags already open, as on any ordinary day
Prints seconds, the ratio to the floor, statements per batch (reads), statements spent
raising flags for the few graduates with a signal, and the load average (the machine may be
shared: a high one means a noisy figure). Informational only: always exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from api import migrate
from api.db import Database
from api.flags import time_rules
from api.programs.models import Program
from bench.request_overhead import _throwaway_postgres

GOAL_SECONDS = 60
NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
]
ANSWERS = {
    "phq9": {f"phq9-{n}": 1 for n in range(1, 9)} | {"phq9-9": 0},
    "gad7": {f"gad7-{n}": 1 for n in range(1, 8)},
    "bam": {f"bam-{n}": 0 for n in range(1, 18)},
    "daily": {"mood": 6, "phq2": 1, "gad2": 1, "sleep": 3, "safe": 1},
}

SEED = [
    # Spread over every phase (days -5..399) and eight zones; 3 % quiet for 30 days.
    """INSERT INTO graduates (id, program_id, user_id, display_name, graduation_date, timezone,
           substance_use, baseline_phq9, baseline_gad7, created_at, last_active_at)
       SELECT gen_random_uuid(), (SELECT id FROM programs), NULL, 'Bench ' || n,
              CAST(:now AS date) - (n * 7919 % 405 - 5), (CAST(:zones AS text[]))[1 + n % 8],
              n % 3 = 0, 4 + n % 8, 3 + n % 7, :now,
              CASE WHEN n % 100 < 3 THEN CAST(:now AS timestamptz) - interval '30 days'
                   ELSE CAST(:now AS timestamptz) - (n % 40) * interval '1 hour' END
       FROM generate_series(1, :graduates) AS n""",
    # Six months of full forms answered on (or a day after) each due date, at 18:00 local;
    # the quiet stopped 6 weeks ago.
    """INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at,
           submitted_at, answers, score, band, subscales, safety_positive, part2)
       SELECT gen_random_uuid(), g.id, f.form, '2026.1', t.at, t.at,
              CAST(:answers AS json) -> f.form, 5, 'mild',
              CASE WHEN f.form = 'bam' THEN CAST('{"use": 0}' AS json) END, false, f.form = 'bam'
       FROM graduates g
       CROSS JOIN (VALUES ('phq9', 28), ('gad7', 28), ('bam', 91)) AS f(form, weekly_until)
       CROSS JOIN LATERAL generate_series(
           greatest(1, CAST(:now AS date) - g.graduation_date - 180),
           CAST(:now AS date) - g.graduation_date) AS d
       CROSS JOIN LATERAL (
           SELECT (g.graduation_date + d + abs(hashtext(g.id::text || f.form || d)) % 2
                   + interval '18 hours') AT TIME ZONE g.timezone AS at) t
       WHERE (f.form <> 'bam' OR g.substance_use)
         AND CASE WHEN d <= f.weekly_until THEN d % 7 = 0
                  WHEN d <= 182 OR f.form = 'bam' THEN d % 14 = 0
                  ELSE (d - 182) % 28 = 0 END
         AND t.at <= CAST(:now AS timestamptz)
         AND (g.last_active_at > CAST(:now AS timestamptz) - interval '25 days'
              OR t.at < CAST(:now AS timestamptz) - interval '42 days')""",
    # Some daily check-ins over the last two weeks (never read by the time rules).
    """INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at,
           submitted_at, answers, score, band, subscales, safety_positive, part2)
       SELECT gen_random_uuid(), g.id, 'daily', '2026.1', t.at, t.at,
              CAST(:answers AS json) -> 'daily', NULL, NULL,
              CAST('{"phq2": 1, "gad2": 1}' AS json), false, false
       FROM graduates g
       CROSS JOIN generate_series(0, 13) AS d
       CROSS JOIN LATERAL (SELECT CAST(:now AS timestamptz) - d * interval '1 day'
                           - interval '2 hours' AS at) t
       WHERE abs(hashtext(g.id::text || d)) % 2 = 0
         AND g.last_active_at > CAST(:now AS timestamptz) - interval '25 days'
         AND t.at >= (g.graduation_date + 1)::timestamp AT TIME ZONE g.timezone""",
    """INSERT INTO appointments (id, graduate_id, kind, clinician_name, location, video_url,
           starts_at, timezone, duration_minutes, rrule, created_at)
       SELECT gen_random_uuid(), g.id, 'therapy', 'Dr. Bench', 'Clinic', NULL,
              CAST(:now AS timestamptz) - interval '6 weeks', g.timezone, 50, 'FREQ=WEEKLY', :now
       FROM graduates g WHERE abs(hashtext(g.id::text)) % 4 = 1""",
    """INSERT INTO appointment_reports (id, appointment_id, occurrence_start, status, reported_at)
       SELECT gen_random_uuid(), a.id, a.starts_at + k * interval '7 days',
              CASE WHEN abs(hashtext(a.id::text)) % 25 = 0 AND k >= 4 THEN 'missed'
                   ELSE 'attended' END,
              a.starts_at + k * interval '7 days' + interval '2 hours'
       FROM appointments a CROSS JOIN generate_series(0, 5) AS k""",
    """INSERT INTO flags (id, graduate_id, program_id, kind, source, status, rule, rules_version,
           explanation, evidence, details, raised_at, updated_at)
       SELECT gen_random_uuid(), g.id, g.program_id, 'watch', 'mood', 'open',
              'phq9_rise_from_baseline', 'domain-2026.1', 'PHQ-9 rose from baseline.',
              CAST('[]' AS json), CAST('{}' AS json),
              CAST(:now AS timestamptz) - interval '3 days',
              CAST(:now AS timestamptz) - interval '3 days'
       FROM graduates g WHERE abs(hashtext(g.id::text)) % 50 = 7""",
]
COUNTS = """SELECT (SELECT count(*) FROM graduates), (SELECT count(*) FROM check_ins),
                   (SELECT count(*) FROM appointment_reports), (SELECT count(*) FROM flags)"""
FLOOR = [
    "SELECT id, program_id, graduation_date, timezone, substance_use, last_active_at "
    "FROM graduates ORDER BY id",
    "SELECT graduate_id, questionnaire, answered_at FROM check_ins "
    "WHERE questionnaire IN ('phq9', 'gad7', 'bam') AND answered_at >= %(since)s",
]


def seed(database: Database, *, graduates: int, now: datetime) -> tuple[int, ...]:
    parameters = {
        "now": now,
        "graduates": graduates,
        "zones": ZONES,
        "answers": json.dumps(ANSWERS),
    }
    session = database.session()
    session.add(Program(name="Bench", created_at=now))
    session.commit()
    database.session.remove()
    with database.engine.begin() as connection:
        for statement in SEED:
            connection.execute(text(statement), parameters)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
        return tuple(connection.execute(text(COUNTS)).one())


def floor(database: Database, now: datetime) -> tuple[float, int]:
    """Seconds to fetch the graduates and their full forms in the run's window, and rows."""
    since = now - time_rules.ANSWERS_SINCE
    with database.engine.connect() as connection:
        started = time.perf_counter()
        rows = sum(
            len(connection.exec_driver_sql(statement, {"since": since}).fetchall())
            for statement in FLOOR
        )
        return time.perf_counter() - started, rows


def run(database: Database, now: datetime, batch_size: int) -> dict[str, Any]:
    """One daily run as the scheduler does it; statements split into the batches' reads and
    those spent raising flags."""
    counted = {"reads": 0, "raising": 0}
    raising = [False]
    original = time_rules.raise_signal

    def raise_signal(**kwargs: Any) -> Any:
        raising[0] = True
        try:
            return original(**kwargs)
        finally:
            raising[0] = False

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        kind = statement.lstrip().upper()
        if not kind.startswith(NOT_COUNTED):
            counted["reads" if kind.startswith("SELECT") and not raising[0] else "raising"] += 1

    session = database.session()
    event.listen(database.engine, "before_cursor_execute", count)
    time_rules.raise_signal = raise_signal
    try:
        started = time.perf_counter()
        touched = time_rules.run_daily(session=session, now=now, batch_size=batch_size)
        session.commit()
        seconds = time.perf_counter() - started
    finally:
        time_rules.raise_signal = original
        event.remove(database.engine, "before_cursor_execute", count)
        database.session.remove()
    return {"seconds": seconds, "touched": touched, **counted}


def flagged(database: Database, now: datetime) -> tuple[list[tuple[str, str, int]], int]:
    """Open flags by rule, and how many seeded as engaged were flagged for missed forms or
    inactivity (a sanity check on the seed and the rules: it should be 0)."""
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT kind, rule, count(*) FROM flags WHERE status <> 'resolved' "
            "GROUP BY kind, rule ORDER BY kind, rule"
        )
        wrongly = connection.exec_driver_sql(
            "SELECT count(DISTINCT f.graduate_id) FROM flags f "
            "JOIN graduates g ON g.id = f.graduate_id "
            "WHERE g.last_active_at > %(since)s AND (f.rule LIKE '%%missed_twice' "
            "OR f.rule = 'no_app_activity') AND f.rule <> 'appointments_missed_twice'",
            {"since": now - timedelta(days=25)},
        ).scalar_one()
        return [tuple(row) for row in rows], wrongly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graduates", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=time_rules.BATCH_SIZE)
    parser.add_argument("--days", type=int, default=2, help="daily runs, a day apart (default 2)")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)

    with ExitStack() as stack:
        url = _throwaway_postgres(stack)
        migrate.upgrade(url)
        database = Database(url)
        stack.callback(database.dispose)
        started = time.perf_counter()
        graduates, check_ins, reports, flags = seed(database, graduates=args.graduates, now=now)
        seeded = time.perf_counter() - started
        floor(database, now)  # warm the cache: both sides read from memory
        floors = [floor(database, now)]
        runs = []
        for day in range(args.days):
            today = now + timedelta(days=day)
            runs.append(run(database, today, args.batch_size) | {"load": os.getloadavg()[0]})
            floors.append(floor(database, today))
        raised, wrongly = flagged(database, now)

    floor_seconds, floor_rows = min(floors)
    batches = math.ceil(graduates / args.batch_size)
    # A last read finds no further batch when the count divides evenly.
    empty_reads = 1 if graduates % args.batch_size == 0 else 0
    print(
        f"PostgreSQL, {os.cpu_count()} cores; seeded in {seeded:.1f} s: {graduates:,} graduates, "
        f"{check_ins:,} check-ins, {reports:,} appointment reports, {flags:,} open watches"
    )
    print(f"batch size {args.batch_size:,}: {batches} batches")
    print(
        f"floor: bare SELECT of {floor_rows:,} rows: {floor_seconds:.2f} s (fastest of "
        + ", ".join(f"{seconds:.2f}" for seconds, _ in floors)
        + ")"
    )
    for day, result in enumerate(runs, 1):
        per_batch = (result["reads"] - empty_reads) / batches
        kind = "new flags" if day == 1 else "open flags merge"
        ratio = result["seconds"] / floor_seconds
        print(
            f"day {day} ({kind}): {result['seconds']:.2f} s, {ratio:.1f} x floor; "
            f"{per_batch:.1f} reads per batch; {result['raising']:,} statements raising "
            f"{result['touched']:,} flag updates; load average {result['load']:.1f}"
        )
    print("open flags after the runs:")
    for kind, rule, count in raised:
        print(f"  {kind:<11} {rule:<26} {count:>7,}")
    print(f"engaged graduates flagged for missed forms or inactivity: {wrongly} (expected 0)")
    for day, result in enumerate(runs, 1):
        verdict = "PASS" if result["seconds"] < GOAL_SECONDS else "MISS"
        print(f"goal (informational): day {day} under {GOAL_SECONDS} s: {verdict}")


if __name__ == "__main__":
    main()
