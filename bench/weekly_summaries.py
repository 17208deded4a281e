"""Weekly summaries for many graduates on PostgreSQL, against a floor measured in the same run.

    .venv/bin/python -m bench.weekly_summaries [--graduates 10000] [--per-therapist 25]

Seeds a throwaway database with server-side bulk inserts: graduates six months past
graduation, one consenting therapist per 25 of them (a fifth with the Part 2 consent and in
substance-use care), a daily check-in every day, PHQ-9 and GAD-7 every two weeks, BAM weekly
for substance-use care, skill practice, a weekly appointment with reports, some open flags.
Then it runs the weekly job once (every therapist due at the same slot) and prints:
  - seconds to build every summary, and summaries per second;
  - SQL statements in all, per batch of graduates and per summary (counted with a
    before_cursor_execute listener), grouped by kind to show there is no N+1;
  - the floor: the same process SELECTing the rows the builder reads, bare (no building, no
    writes), and the ratio build / floor.
Informational only: it always exits 0. The database on 127.0.0.1:5432 is dropped afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from api import migrate
from api.db import make_engine
from api.notifications import partitions
from api.summaries import service
from api.summaries.models import Summary
from bench.request_overhead import _throwaway_postgres

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday; the default slot is 08:00 Chicago
HISTORY_DAYS = 183
GOAL_SECONDS = 60
CHECK_IN_INDEXES = {
    "ix_check_ins_graduate_id_answered_at": "graduate_id, answered_at",
    "ix_check_ins_graduate_id_questionnaire_answered_at": "graduate_id, questionnaire, answered_at",
}
# Statements the job runs once whatever the caseload size: who is due, claiming the weeks.
PER_RUN = ("summary_runs", "summary_preferences", "DISTINCT consents", "graduates.timezone")


def seed(session: Session, graduates: int, per_therapist: int) -> None:
    """Everything in a handful of INSERT ... SELECT statements over generate_series."""
    graduation = NOW.date() - timedelta(days=HISTORY_DAYS)
    therapists = math.ceil(graduates / per_therapist)
    params = {
        "n": graduates,
        "t": therapists,
        "per": per_therapist,
        "now": NOW,
        "graduation": graduation,
        "days": HISTORY_DAYS,
    }
    statements = [
        "INSERT INTO programs (id, name, crisis_lines, created_at) "
        "VALUES ('00000000-0000-0000-0000-000000000001', 'Bench IOP', '[]', :now)",
        "INSERT INTO users (id, firebase_uid, email, created_at) "
        "SELECT md5('t' || i)::uuid, 'uid-' || i, 'therapist' || i || '@bench.example', :now "
        "FROM generate_series(1, :t) AS i",
        "INSERT INTO memberships (id, program_id, email, role, user_id, created_at) "
        "SELECT md5('m' || i)::uuid, '00000000-0000-0000-0000-000000000001', "
        "'therapist' || i || '@bench.example', 'therapist', md5('t' || i)::uuid, :now "
        "FROM generate_series(1, :t) AS i",
        "INSERT INTO graduates (id, program_id, display_name, graduation_date, timezone, "
        "substance_use, baseline_phq9, baseline_gad7, created_at) "
        "SELECT md5('g' || i)::uuid, '00000000-0000-0000-0000-000000000001', 'Graduate ' || i, "
        ":graduation, 'America/Chicago', i % 5 = 0, 4 + i % 8, 3 + i % 7, :now "
        "FROM generate_series(1, :n) AS i",
        "INSERT INTO care_team_members (id, graduate_id, membership_id, created_at) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, md5('m' || (1 + (i - 1) / :per))::uuid, "
        ":now FROM generate_series(1, :n) AS i",
        "INSERT INTO consents (id, graduate_id, therapist_user_id, share_check_ins, "
        "share_substance_use, granted_at, updated_at) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, md5('t' || (1 + (i - 1) / :per))::uuid, "
        "true, i % 5 = 0, :now, :now FROM generate_series(1, :n) AS i",
        # A daily check-in every day at 13:00Z (07:00 Chicago).
        "INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at, "
        "submitted_at, answers, score, band, subscales, safety_positive, part2) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, 'daily', '2026.1', at, at, "
        "json_build_object('daily-mood', 6, 'phq2-1', 1, 'phq2-2', 0, 'gad2-1', 1, 'gad2-2', 0),"
        " NULL, NULL, json_build_object('phq2', 1, 'gad2', 1), false, false "
        "FROM generate_series(1, :n) AS i, "
        "generate_series(CAST(:graduation AS timestamptz) + interval '13 hours', "
        "CAST(:now AS timestamptz) - interval '1 hour', interval '1 day') AS at",
        # PHQ-9 and GAD-7 every two weeks, drifting by graduate.
        "INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at, "
        "submitted_at, answers, score, band, subscales, safety_positive, part2) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, form, '2026.1', at, at, "
        "CASE WHEN form = 'phq9' THEN json_build_object('phq9-1', 1, 'phq9-2', 1, 'phq9-3', 1, "
        "'phq9-4', 1, 'phq9-5', 1, 'phq9-6', 1, 'phq9-7', 1, 'phq9-8', 1, 'phq9-9', 0) "
        "ELSE json_build_object('gad7-1', 1, 'gad7-2', 1, 'gad7-3', 1, 'gad7-4', 1, "
        "'gad7-5', 1, 'gad7-6', 1, 'gad7-7', 1) END, "
        "s, CASE WHEN s < 5 THEN 'minimal' WHEN s < 10 THEN 'mild' ELSE 'moderate' END, "
        "NULL, false, false "
        "FROM generate_series(1, :n) AS i, unnest(ARRAY['phq9', 'gad7']) AS form, "
        "generate_series(CAST(:graduation AS timestamptz) + interval '14 days 18 hours', "
        "CAST(:now AS timestamptz), interval '14 days') AS at, "
        "LATERAL (SELECT (4 + i % 8 + extract(day FROM at)::int % 5)::int AS s) AS score",
        # BAM weekly for the fifth in substance-use care.
        "INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at, "
        "submitted_at, answers, score, band, subscales, safety_positive, part2) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, 'bam', '2026.1', at, at, "
        "json_build_object('bam-4', 0), NULL, NULL, "
        "json_build_object('use', 0, 'risk', 6, 'protective', 12), false, true "
        "FROM generate_series(5, :n, 5) AS i, "
        "generate_series(CAST(:graduation AS timestamptz) + interval '7 days 19 hours', "
        "CAST(:now AS timestamptz), interval '7 days') AS at",
        "INSERT INTO plan_skills (id, graduate_id, skill_id, target_per_week, created_at) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, skill, 3, :now "
        "FROM generate_series(1, :n) AS i, unnest(ARRAY['box-breathing', 'opposite-action']) "
        "AS skill",
        "INSERT INTO skill_practice (id, graduate_id, skill_id, practiced_at, done, helpfulness) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, 'box-breathing', at, true, 7 "
        "FROM generate_series(1, :n) AS i, "
        "generate_series(CAST(:graduation AS timestamptz) + interval '20 hours', "
        "CAST(:now AS timestamptz), interval '2 days') AS at",
        "INSERT INTO appointments (id, graduate_id, kind, clinician_name, starts_at, timezone, "
        "duration_minutes, rrule, created_at) "
        "SELECT md5('a' || i)::uuid, md5('g' || i)::uuid, 'therapy', 'Dr Bench', "
        "CAST(:graduation AS timestamptz) + interval '3 days 16 hours', 'America/Chicago', 50, "
        "'FREQ=WEEKLY', :now FROM generate_series(1, :n) AS i",
        "INSERT INTO appointment_reports (id, appointment_id, occurrence_start, status, "
        "reported_at) "
        "SELECT gen_random_uuid(), md5('a' || i)::uuid, at, "
        "CASE WHEN (i + extract(doy FROM at)::int) % 9 = 0 THEN 'missed' ELSE 'attended' END, "
        "at + interval '2 hours' FROM generate_series(1, :n) AS i, "
        "generate_series(CAST(:graduation AS timestamptz) + interval '3 days 16 hours', "
        "CAST(:now AS timestamptz) - interval '1 day', interval '7 days') AS at",
        "INSERT INTO flags (id, graduate_id, program_id, kind, source, status, rule, "
        "rules_version, explanation, evidence, details, raised_at, updated_at) "
        "SELECT gen_random_uuid(), md5('g' || i)::uuid, '00000000-0000-0000-0000-000000000001',"
        " 'watch', 'mood', 'open', 'phq9_rise_from_baseline', 'domain-2026.1', "
        "'PHQ-9 rose.', '[]', '{}', :now - interval '3 days', :now - interval '3 days' "
        "FROM generate_series(10, :n, 10) AS i",
    ]
    # Bulk-load speed: no foreign-key triggers, and the check-in indexes built once at the end.
    session.execute(text("SET session_replication_role = replica"))
    for index in CHECK_IN_INDEXES:
        session.execute(text(f"DROP INDEX {index}"))
    for statement in statements:
        session.execute(text(statement), params)
    for index, columns in CHECK_IN_INDEXES.items():
        session.execute(text(f"CREATE INDEX {index} ON check_ins ({columns})"))
    session.execute(text("SET session_replication_role = DEFAULT"))
    session.commit()
    session.execute(text("ANALYZE"))


def floor(session: Session) -> float:
    """The rows the builder reads, selected bare: one pass over each table it touches."""
    start_window = NOW - timedelta(weeks=26 + 1)
    week = NOW - timedelta(days=8)
    queries = [
        (
            "SELECT graduate_id, questionnaire, answered_at, score, band FROM check_ins "
            "WHERE questionnaire IN ('phq9', 'gad7', 'bam') AND answered_at >= :a"
        ),
        (
            "SELECT id, graduate_id, questionnaire, answered_at, answers, subscales, "
            "safety_positive, part2 FROM check_ins WHERE answered_at >= :w"
        ),
        "SELECT g.id, (SELECT answered_at FROM check_ins c WHERE c.graduate_id = g.id AND NOT "
        "c.part2 ORDER BY answered_at DESC LIMIT 1) FROM graduates g",
        "SELECT graduate_id, skill_id, count(*) FROM skill_practice WHERE practiced_at >= :w "
        "GROUP BY 1, 2",
        "SELECT graduate_id, skill_id, target_per_week FROM plan_skills",
        "SELECT a.graduate_id, r.status, count(*) FROM appointment_reports r JOIN appointments a "
        "ON a.id = r.appointment_id WHERE r.occurrence_start >= :w GROUP BY 1, 2",
        "SELECT * FROM flags WHERE status IN ('open', 'acknowledged')",
    ]
    started = time.perf_counter()
    for query in queries:
        session.execute(text(query), {"a": start_window, "w": week}).all()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graduates", type=int, default=10_000)
    parser.add_argument("--per-therapist", type=int, default=25)
    parser.add_argument("--profile", action="store_true", help="print where Python spends time")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = _throwaway_postgres(stack)
        migrate.upgrade(url)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        # The bench's clock is fixed; the migration made the outbox's months around today.
        with Session(engine) as session:
            partitions.ensure(session=session, now=NOW)
        started = time.perf_counter()
        with Session(engine) as session:
            seed(session, args.graduates, args.per_therapist)
            rows = session.scalar(text("SELECT count(*) FROM check_ins"))
        print(
            f"seeded {args.graduates:,} graduates, {rows:,} check-ins over {HISTORY_DAYS} days "
            f"in {time.perf_counter() - started:.1f} s"
        )
        with Session(engine) as session:
            floor(session)  # warm the cache: both sides read from memory
            floor_seconds = min(floor(session) for _ in range(2))

        statements: Counter[str] = Counter()
        spent: Counter[str] = Counter()

        @event.listens_for(engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, _params, context, _executemany) -> None:
            statements[" ".join(statement.split())[:60]] += 1
            context._bench_started = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _time(_conn, _cursor, statement, _params, context, _executemany) -> None:
            spent[" ".join(statement.split())[:60]] += time.perf_counter() - context._bench_started

        with Session(engine) as session:
            profiler = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = service.build_due(session=session, now=NOW)
            if profiler:
                profiler.disable()
            session.commit()
            seconds = time.perf_counter() - started
            event.remove(engine, "before_cursor_execute", _count)
            event.remove(engine, "after_cursor_execute", _time)
            built = session.scalar(select(func.count()).select_from(Summary))

        total = sum(statements.values())
        batches = math.ceil(args.graduates / service.BATCH)
        fixed = sum(n for s, n in statements.items() if any(k in s for k in PER_RUN))
        print(
            f"summaries built:        {result.summaries:,} ({built:,} stored) for "
            f"{len(result.therapist_user_ids):,} therapists"
        )
        print(f"seconds:                {seconds:.2f}  ({result.summaries / seconds:,.0f} / s)")
        print(f"floor (bare SELECTs):   {floor_seconds:.2f} s")
        print(f"ratio build / floor:    {seconds / floor_seconds:.2f}")
        print(f"statements:             {total} in all, {batches} batches of {service.BATCH}")
        print(f"  once per run:         {fixed}")
        print(f"  per batch:            {(total - fixed) / batches:.1f}")
        print(f"  per summary:          {total / max(result.summaries, 1):.4f}")
        in_database = sum(spent.values())
        print(
            f"  in the database:      {in_database:.2f} s (Python: {seconds - in_database:.2f} s)"
        )
        print("  count  seconds  statement")
        for statement, count in statements.most_common():
            print(f"  {count:>5}  {spent[statement]:>7.2f}  {statement}")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        verdict = "PASS" if seconds <= GOAL_SECONDS else "MISS"
        print(f"goal <= {GOAL_SECONDS} s for 10,000 graduates: {seconds:.2f} s  {verdict}")


if __name__ == "__main__":
    main()
