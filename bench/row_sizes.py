"""Bytes a row of check_ins and of notifications on PostgreSQL, and a year of each at scale.

    .venv/bin/python -m bench.row_sizes [--graduates 400] [--at 1000000]

Seeds one graduate-year of check-ins for each of N graduates at the most the cadence asks
(the daily check-in every day; PHQ-9 and GAD-7 22 times and the BAM 32 times, as in year
1, with item-level answers as the forms store them) and 90 days of their outbox (three
rows a day: skill practice, check-in announced, check-in nudged), vacuums, and prints
bytes per row (table alone, and with every index), then rows and gigabytes a year for
`--at` graduates. The figures behind docs/operations.md, "Partitions". Sizes, not timing:
no floor. Informational: always exits 0. A throwaway database on
postgresql://postgres@127.0.0.1:5432 is created and dropped.
"""

from __future__ import annotations

import argparse
import random
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from api import migrate
from api.checkins.models import CheckIn
from api.db import make_engine
from api.graduates.models import Graduate
from api.notifications import partitions
from api.notifications.service import Planned, enqueue
from api.programs.models import Program
from api.users.models import User
from bench.request_overhead import _throwaway_postgres

NOW = datetime(2026, 11, 23, 15, tzinfo=UTC)
# One graduate-year at the most the cadence asks (README, "Check-ins"), year 1.
FORMS_A_YEAR = {"daily": 365, "phq9": 22, "gad7": 22, "bam": 32}
ITEMS = {"phq9": 9, "gad7": 7, "bam": 17}
OUTBOX_DAYS = 90
OUTBOX_A_DAY = (("skill_practice", 6), ("check_in_due", 7), ("check_in_nudge", 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graduates", type=int, default=400)
    parser.add_argument("--at", type=int, default=1_000_000)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = _throwaway_postgres(stack)
        migrate.upgrade(url)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        with Session(engine) as session:  # the bench's clock is fixed
            partitions.ensure(session=session, now=NOW, behind=OUTBOX_DAYS // 28 + 1)
        people = _seed_people(engine, args.graduates)
        check_ins = _seed_check_ins(engine, [graduate for graduate, _ in people])
        outbox = _seed_outbox(engine, people)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE check_ins"))
            connection.execute(text("VACUUM ANALYZE notifications"))
            sizes = {
                "check_ins": connection.execute(
                    text("SELECT pg_table_size('check_ins'), pg_total_relation_size('check_ins')")
                ).one(),
                "notifications": connection.execute(
                    text(
                        "SELECT sum(pg_table_size(inhrelid)), sum(pg_total_relation_size(inhrelid))"
                        " FROM pg_inherits WHERE inhparent = CAST('notifications' AS regclass)"
                    )
                ).one(),
            }
    a_year = {
        "check_ins": sum(FORMS_A_YEAR.values()),
        "notifications": 365 * len(OUTBOX_A_DAY),
    }
    rows = {"check_ins": check_ins, "notifications": outbox}
    print(f"{args.graduates:,} graduates; a year at {args.at:,} graduates:")
    for table, (alone, total) in sizes.items():  # sum() of sizes comes back as a Decimal
        alone, per_row = int(alone), int(total) / rows[table]
        year = a_year[table] * args.at
        print(
            f"  {table:<14} {rows[table]:>9,} rows  {alone / rows[table]:5.0f} B/row alone, "
            f"{per_row:5.0f} with indexes;  {a_year[table]} a graduate-year, "
            f"{year / 1e6:,.0f} million rows, {year * per_row / 1e9:,.0f} GB a year"
        )


def _seed_people(engine: Engine, count: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    with Session(engine) as session:
        program = Program(name="Sizing IOP", created_at=NOW)
        session.add(program)
        session.flush()
        users = [uuid.uuid4() for _ in range(count)]
        graduates = [uuid.uuid4() for _ in range(count)]
        session.execute(
            insert(User),
            [
                {"id": user, "firebase_uid": f"s{n}", "email": f"s{n}@s.example", "created_at": NOW}
                for n, user in enumerate(users)
            ],
        )
        session.execute(
            insert(Graduate),
            [
                {
                    "id": graduate,
                    "program_id": program.id,
                    "user_id": user,
                    "display_name": f"Sizing {n}",
                    "graduation_date": (NOW - timedelta(days=365)).date(),
                    "timezone": "America/Chicago",
                    "substance_use": True,
                    "baseline_phq9": 9,
                    "baseline_gad7": 7,
                    "created_at": NOW - timedelta(days=365),
                }
                for n, (graduate, user) in enumerate(zip(graduates, users, strict=True))
            ],
        )
        session.commit()
    return list(zip(graduates, users, strict=True))


def _seed_check_ins(engine: Engine, graduates: list[uuid.UUID]) -> int:
    rng = random.Random(23)
    count = 0
    with Session(engine) as session:
        for graduate in graduates:
            rows = [
                _check_in(rng, graduate, name, NOW - timedelta(days=365 * n / times))
                for name, times in FORMS_A_YEAR.items()
                for n in range(times)
            ]
            session.execute(insert(CheckIn), rows)
            count += len(rows)
        session.commit()
    return count


def _check_in(rng: random.Random, graduate: uuid.UUID, name: str, at: datetime) -> dict:
    answers: dict[str, Any]
    subscales: dict[str, int] | None = None
    if name == "daily":
        answers = {
            "daily-mood": rng.randint(0, 10),
            "daily-sleep-hours": rng.randint(3, 10),
            "daily-safe": 1,
        } | {f"{form}-{item}": rng.randint(0, 3) for form in ("phq2", "gad2") for item in (1, 2)}
        subscales = {"phq2": 2, "gad2": 1}
    else:
        answers = {f"{name}-{item}": rng.randint(0, 3) for item in range(1, ITEMS[name] + 1)}
        if name == "bam":
            subscales = {"use": 3, "risk": 11, "protective": 9}
    return {
        "id": uuid.uuid4(),
        "graduate_id": graduate,
        "questionnaire": name,
        "form_version": "2026.1",
        "answered_at": at,
        "submitted_at": at + timedelta(seconds=rng.randint(1, 600)),
        "answers": answers,
        "score": None if name in ("daily", "bam") else sum(answers.values()),
        "band": None if name in ("daily", "bam") else "mild",
        "subscales": subscales,
        "safety_positive": False,
        "part2": name == "bam",
    }


def _seed_outbox(engine: Engine, people: list[tuple[uuid.UUID, uuid.UUID]]) -> int:
    with Session(engine) as session:
        items = [
            Planned(
                user,
                kind,
                f"{kind}:{day}",
                NOW - timedelta(days=day, hours=hours),
                graduate_id=graduate,
                expires_at=NOW - timedelta(days=day) + timedelta(hours=12),
            )
            for graduate, user in people
            for day in range(OUTBOX_DAYS)
            for kind, hours in OUTBOX_A_DAY
        ]
        inserted = enqueue(session, items=items, now=NOW)  # as planned: before any update
        session.commit()
    return inserted


if __name__ == "__main__":
    main()
