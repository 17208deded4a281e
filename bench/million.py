"""A million graduates on one PostgreSQL: the planner, the 09:00 burst, the daily flag run and
the database's size, each against its goal and a floor measured in the same run.

    .venv/bin/python -m bench.million [--graduates 1000000] [--keep] [--reuse NAME]

Seeds a throwaway database on postgresql://postgres@127.0.0.1:5432, migrated with the
project's migrations, in SQL on the server (INSERT … SELECT over generate_series, never the
ORM). The seed is fixed: every choice is a hash of the graduate's number.

- graduates in seven US zones (40 % New York, 27 % Chicago, 20 % Los Angeles, 6 % Denver,
  3 % Phoenix, 2 % Anchorage, 2 % Honolulu), 0-239 days after graduation (months 1-8, so
  every phase), 35 % in substance-use care; one program per 5,000, one staff member each;
- their users; one device each, a second for 30 %; reminder preferences for a quarter
  (10 % the defaults, 15 % changed: two skill times, 08:30, other quiet hours, a lower cap,
  check-in reminders off, the weekly maintenance nudge, a pause, a snooze); the other
  three quarters have no row and get the defaults;
- a week of history: daily check-ins (75 % of days in month 1, down to 20 % after month 6;
  3 % screen positive), skill practice (50 % of days in month 1, 25 % after), three sent
  reminders a day (skill at 09:00, check-in at 09:00, nudge at 18:00, with the planner's
  subjects);
- PHQ-9, GAD-7 (and the BAM in substance-use care) answered on each due date as far back as
  the daily flag rules read (weekly while a watch is or was open); 3 % quiet (no app for
  15-40 days, no forms for 6 weeks), 3 % active but no longer answering full forms;
- a weekly therapy appointment for 20 %, with 8 weeks of reports (1 in 25 of them missed the
  last two); open watches (2 % mood, 1 % of substance-use care), 0.3 % acknowledged
  step-ups, 1.7 % resolved watches; 7 in 8 of the quiet and the skipping have had their
  disengagement flags open for days (the eighth are new today), as on any ordinary day;
- every graduate marked due for the planner, as enrolment leaves them (nothing planned yet).

Then one simulated Tuesday (DAY; times UTC):

  first      12:10  the planner with nothing planned yet: every zone's 09:00 of the day and
                    New York's 18:00 nudges
  steady     12:15  the planner five minutes later: nothing changed, nothing entered the
                    horizon; it must insert nothing
  reconcile  12:15  any other reminders.* job in JOBS (a daily full reconcile), if there is one
  flags      15:05  `time_rules.run_daily`, when the scheduler runs it
  catch-up   01:57  the planner just before the largest zone's next 09:00 enters its horizon
                    (informational: fourteen hours of slots at once)
  burst      02:02  the 09:00 burst's materialize time, that is the seconds a planner run
                    takes to write the burst's rows to the outbox. The burst is written by
                    two runs: this one, the first whose horizon holds the largest zone's next
                    09:00, writes its skill and appointment reminders (and whatever else
                    enters the horizon in those five minutes); ...
  catch-up   04:57  (the planner just before local midnight in that zone)
  burst      05:02  ... and the first run of its new local day writes the check-in reminders
                    due at that 09:00 (a check-in is planned once it is due, from the start
                    of its day), with Los Angeles's 09:00 slots entering the horizon.
                    Each run's goal is 100 s. Claiming and sending the rows is
                    bench/push_pipeline.py's measure, not this one.

"The planner" is every reminders.* job of jobs/scheduler.JOBS that runs on an interval,
called as the scheduler calls it, so the bench measures whatever the planner job becomes.

Floors, measured in the same run:
  first, burst  a plain INSERT … SELECT of as many rows into notifications (copies of what
                the run wrote, prepared beforehand; rolled back)
  steady        one full read of the planner's two largest inputs: every graduate with their
                preferences, and the outbox's reminders of the last three days
  flags         plain SELECTs of what the daily run reads: graduates, full forms since
                ANSWERS_SINCE, appointment reports, watch and step-up flags
Sizes: pg_total_relation_size per table (a partitioned table's partitions summed) and
pg_database_size, per graduate.

--keep leaves the seeded database for later runs and measures on a copy of it
(CREATE DATABASE … TEMPLATE); --reuse NAME skips seeding and measures on a copy of NAME.
Informational: a step that fails is reported and the rest still run; always exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from api import migrate
from api.checkins.cadence import FULL_FORMS, REACH, Cadence
from api.config import PROJECT_DIR
from api.db import Database, make_engine
from api.flags import time_rules
from api.graduates.models import Graduate
from api.notifications import partitions
from api.notifications.texts import TEXTS
from api.programs.models import default_crisis_lines
from api.reminders import changes, planner
from api.reminders.models import DEFAULTS, KIND_GROUPS
from api.reminders.rules import REMINDER_KINDS, parse_hhmm
from bench.request_overhead import POSTGRES_ADMIN
from jobs.scheduler import JOBS

DAY = date(2027, 1, 12)  # a Tuesday, no DST change within the history's reach
FIRST = datetime.combine(DAY, wall(12, 10), UTC)
TICK = timedelta(minutes=5)  # the planner job's interval
STEADY = FIRST + TICK
FLAGS = datetime.combine(DAY, wall(15, 5), UTC)  # as jobs/scheduler.py runs it
HISTORY_DAYS = 7
PER_PROGRAM = 5000
GOALS = {  # seconds, issue 23
    "steady": 10.0,
    "burst": 100.0,
    "flags": 600.0,
}
FIRST_GOAL_PER_100K = 10.0  # issue 23 item 1's first-run goal at 100,000, scaled to N
ZONES = (  # per mille
    ("America/New_York", 400),
    ("America/Chicago", 270),
    ("America/Los_Angeles", 200),
    ("America/Denver", 60),
    ("America/Phoenix", 30),
    ("America/Anchorage", 20),
    ("Pacific/Honolulu", 20),
)
SKILLS = sorted(path.stem for path in (PROJECT_DIR / "content" / "skills").glob("*.md"))
ANSWERS = {
    "phq9": {**{f"phq9-{i}": 1 for i in range(1, 9)}, "phq9-9": 0},
    "gad7": {f"gad7-{i}": 1 for i in range(1, 8)},
    "bam": {f"bam-{i}": 1 if i in (9, 10, 12, 13, 14, 16) else 0 for i in range(1, 18)},
}
SCORES = {"phq9": (8, "mild"), "gad7": (7, "mild"), "bam": (None, None)}
NAME = re.compile(r"^[a-z0-9_]{1,50}$")


# -- the seed ---------------------------------------------------------------------------------


def _draw(salt: int, extra: str = "0", modulus: int = 1000) -> str:
    """SQL for a fixed pseudo-random number in [0, modulus) per graduate number `p.n`, salt
    and `extra` (an SQL integer under 1024, e.g. a day)."""
    mixed = f"hashint8(p.n::bigint * 1048576 + {salt} * 1024 + {extra})::bigint + 2147483648"
    return f"CAST(({mixed}) % {modulus} AS int)"


def _zone_case() -> str:
    choices, upto = [], 0
    for zone, share in ZONES[:-1]:
        upto += share
        choices.append(f"WHEN p.z < {upto} THEN '{zone}'")
    return f"CASE {' '.join(choices)} ELSE '{ZONES[-1][0]}' END"


def _at(day: str, clock: str, zone: str = "p.zone") -> str:
    """SQL for a local wall-clock time on a date, as an instant."""
    return f"(({day}) + CAST({clock} AS time)) AT TIME ZONE {zone}"


# Eight weeks ago, a weekday and a time of day (10:00, 14:00 or 16:30) per graduate.
FIRST_APPOINTMENT = _at(
    f"CAST(:day AS date) - 56 + {_draw(11, modulus=7)}",
    f"(ARRAY['10:00', '14:00', '16:30'])[1 + {_draw(12, modulus=3)}]",
)
PEOPLE = f"""
CREATE UNLOGGED TABLE bench_people AS
SELECT p.n,
       md5('graduate:' || p.n)::uuid AS graduate_id,
       md5('user:' || p.n)::uuid AS user_id,
       md5('program:' || p.n % :programs)::uuid AS program_id,
       {_zone_case()} AS zone,
       p.days,
       p.su < 350 AS substance_use,
       CASE WHEN p.e < 30 THEN 'quiet' WHEN p.e < 60 THEN 'skips_forms' ELSE 'engaged' END
           AS engagement,
       p.preference,
       1 + (p.dv >= 700)::int AS devices,
       p.ap < 200 AS has_appointment,
       p.flag,
       p.flag < 50 AS intensified
FROM (SELECT p.n, {_draw(0)} AS z, {_draw(1, modulus=240)} AS days, {_draw(2)} AS su,
             {_draw(3)} AS e, {_draw(4)} AS preference, {_draw(5)} AS dv, {_draw(6)} AS ap,
             {_draw(7)} AS flag
      FROM generate_series(1, :graduates) AS p(n)) AS p
"""

SEED: list[tuple[str, str]] = [
    ("people (a scratch table)", PEOPLE),
    (
        "programs",
        """INSERT INTO programs (id, name, crisis_lines, created_at)
           SELECT md5('program:' || p)::uuid, 'Program ' || p, CAST(:crisis_lines AS json),
                  :first - interval '2 years'
           FROM generate_series(0, :programs - 1) AS p""",
    ),
    (
        "users (staff)",
        """INSERT INTO users (id, firebase_uid, email, created_at)
           SELECT md5('staff:' || p)::uuid, substr(md5('staff-uid:' || p), 1, 28),
                  'staff' || p || '@program.example', :first - interval '2 years'
           FROM generate_series(0, :programs - 1) AS p""",
    ),
    (
        "memberships (staff)",
        """INSERT INTO memberships (id, program_id, email, role, user_id, created_at)
           SELECT md5('membership:' || p)::uuid, md5('program:' || p)::uuid,
                  'staff' || p || '@program.example', 'staff', md5('staff:' || p)::uuid,
                  :first - interval '2 years'
           FROM generate_series(0, :programs - 1) AS p""",
    ),
    (
        "users (graduates)",
        """INSERT INTO users (id, firebase_uid, email, created_at)
           SELECT user_id, substr(md5('uid:' || n), 1, 28), 'graduate' || n || '@example.org',
                  CAST(CAST(:day AS date) - days - 3 AS timestamp) AT TIME ZONE 'UTC'
           FROM bench_people ORDER BY n""",
    ),
    (
        "graduates",
        f"""INSERT INTO graduates (id, program_id, user_id, display_name, graduation_date,
               timezone, substance_use, baseline_phq9, baseline_gad7, created_at, last_active_at)
           SELECT graduate_id, program_id, user_id, 'Graduate ' || n, CAST(:day AS date) - days,
                  zone, substance_use, 4 + n % 9, 3 + n % 8,
                  CAST(CAST(:day AS date) - days - 3 AS timestamp) AT TIME ZONE 'UTC',
                  CASE WHEN engagement = 'quiet'
                       THEN :first - (15 + {_draw(8, modulus=25)}) * interval '1 day'
                       ELSE :first - {_draw(8, modulus=30)} * interval '1 hour' END
           FROM bench_people AS p ORDER BY n""",
    ),
    (
        "devices",
        f"""INSERT INTO devices (id, user_id, token, platform, created_at, last_seen_at)
           SELECT md5('device:' || n || ':' || k)::uuid, user_id,
                  rpad(md5('token:' || n || ':' || k), 163, md5('fcm:' || n || ':' || k)),
                  CASE WHEN {_draw(9, "k")} < 550 THEN 'android' ELSE 'ios' END,
                  :first - interval '30 days', :first - {_draw(10, "k", 48)} * interval '1 hour'
           FROM bench_people AS p CROSS JOIN generate_series(1, 2) AS k
           WHERE k <= devices""",
    ),
    (
        "devices (staff)",
        """INSERT INTO devices (id, user_id, token, platform, created_at, last_seen_at)
           SELECT md5('staff-device:' || p)::uuid, md5('staff:' || p)::uuid,
                  rpad(md5('staff-token:' || p), 163, md5('staff-fcm:' || p)), 'ios',
                  :first - interval '30 days', :first - interval '1 hour'
           FROM generate_series(0, :programs - 1) AS p""",
    ),
    (
        "reminder preferences",
        """INSERT INTO reminder_preferences (graduate_id, skill_times, quiet_start, quiet_end,
               daily_cap, kinds, maintenance_weekly, appointment_lead_minutes, paused_until,
               snoozes, updated_at)
           SELECT graduate_id,
                  CAST(CASE WHEN preference BETWEEN 850 AND 899 THEN '["09:00", "19:00"]'
                            WHEN preference BETWEEN 900 AND 929 THEN '["08:30"]'
                            ELSE :skill_times END AS json),
                  CASE WHEN preference BETWEEN 930 AND 949 THEN '22:00' ELSE :quiet_start END,
                  CASE WHEN preference BETWEEN 930 AND 949 THEN '07:00' ELSE :quiet_end END,
                  CASE WHEN preference BETWEEN 950 AND 964 THEN 2 ELSE :daily_cap END,
                  CAST(CASE WHEN preference BETWEEN 965 AND 974 THEN :check_ins_off
                            ELSE :kinds END AS json),
                  preference BETWEEN 975 AND 984,
                  CAST(:leads AS json),
                  CASE WHEN preference BETWEEN 985 AND 992 THEN :first + interval '3 days' END,
                  CAST(CASE WHEN preference >= 993 THEN :snooze ELSE '{}' END AS json),
                  :first - interval '10 days'
           FROM bench_people WHERE preference >= 750""",
    ),
    (
        "appointments",
        f"""INSERT INTO appointments (id, graduate_id, kind, clinician_name, location, video_url,
               starts_at, timezone, duration_minutes, rrule, created_at)
           SELECT md5('appointment:' || n)::uuid, graduate_id, 'therapy', 'Dr. Bench',
                  'Outpatient clinic, room 2', NULL,
                  {FIRST_APPOINTMENT},
                  zone, 50, 'FREQ=WEEKLY', :first - interval '60 days'
           FROM bench_people AS p WHERE has_appointment""",
    ),
    (
        "appointment reports",
        f"""INSERT INTO appointment_reports (id, appointment_id, occurrence_start, status,
               reported_at)
           SELECT md5('report:' || a.id || ':' || k)::uuid, a.id, o.start,
                  CASE WHEN {_draw(13, modulus=25)} = 0 AND o.start > :first - interval '14 days'
                       THEN 'missed' ELSE 'attended' END,
                  o.start + interval '2 hours'
           FROM appointments AS a
           JOIN bench_people AS p ON p.graduate_id = a.graduate_id
           CROSS JOIN generate_series(0, 8) AS k
           CROSS JOIN LATERAL (
               SELECT ((a.starts_at AT TIME ZONE a.timezone) + k * interval '7 days')
                      AT TIME ZONE a.timezone AS start) AS o
           WHERE o.start + interval '2 hours' < :first""",
    ),
    (
        "flags",
        """INSERT INTO flags (id, graduate_id, program_id, kind, source, status, rule,
               rules_version, explanation, evidence, details, raised_at, updated_at,
               acknowledged_at, resolved_at, outcome, alert_status)
           SELECT md5('flag:' || p.n || ':' || f.rule)::uuid, p.graduate_id, p.program_id,
                  f.kind, f.source, f.status, f.rule, 'domain-2026.1', f.explanation,
                  CAST('[]' AS json), CAST('{}' AS json),
                  :first - f.raised_days * interval '1 day',
                  :first - coalesce(f.resolved_days, f.raised_days) * interval '1 day',
                  CASE WHEN f.status <> 'open' THEN :first - (f.raised_days - 1) * interval '1 day'
                  END,
                  :first - f.resolved_days * interval '1 day', f.outcome,
                  CASE WHEN f.kind = 'step_up' THEN 'queued' END
           FROM bench_people AS p
           JOIN (VALUES
               (0, 20, false, 'watch', 'mood', 'open', 'phq9_rise_from_baseline',
                'PHQ-9 rose from 6 at discharge to 11 (5 points).', 9, NULL, NULL),
               (20, 30, true, 'watch', 'substance_use', 'open', 'bam_new_use',
                'Reported use on the BAM after none.', 12, NULL, NULL),
               (30, 33, false, 'step_up', 'mood', 'acknowledged', 'phq9_watch_twice',
                'PHQ-9 rose from 6 at discharge to 11 and 13 on the last two check-ins.',
                6, NULL, NULL),
               (33, 50, false, 'watch', 'mood', 'resolved', 'gad7_rise_from_baseline',
                'GAD-7 rose from 5 at discharge to 10 (5 points).', 40, 20, 'monitor')
           ) AS f(low, high, substance_only, kind, source, status, rule, explanation,
                  raised_days, resolved_days, outcome)
             ON p.flag >= f.low AND p.flag < f.high AND (p.substance_use OR NOT f.substance_only)
           UNION ALL
           SELECT md5('flag:' || p.n || '/' || d.source)::uuid, p.graduate_id, p.program_id,
                  'disengaged', d.source, 'open',
                  CASE WHEN d.source = 'substance_use' THEN 'bam_missed_twice'
                       WHEN p.engagement = 'quiet' THEN 'no_app_activity'
                       ELSE 'phq9_missed_twice' END,
                  'domain-2026.1', 'Missed the last two check-ins.', CAST('[]' AS json),
                  CAST('{}' AS json), :first - (2 + p.n % 20) * interval '1 day',
                  :first - interval '1 day', NULL, NULL, NULL, NULL
           FROM bench_people AS p
           CROSS JOIN (VALUES ('mood'), ('substance_use')) AS d(source)
           WHERE p.engagement <> 'engaged' AND p.n % 8 <> 0
             AND (d.source = 'mood' OR p.substance_use)""",
    ),
    (
        "flag events",
        """INSERT INTO flag_events (flag_id, at, action, details)
           SELECT id, raised_at, 'raised', json_build_object('rule', rule) FROM flags
           UNION ALL
           SELECT id, resolved_at, 'resolved', json_build_object('outcome', outcome)
           FROM flags WHERE resolved_at IS NOT NULL""",
    ),
    (
        "check-ins (full forms, as far back as the flag rules read)",
        f"""INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at,
               submitted_at, answers, score, band, subscales, safety_positive, part2)
           SELECT gen_random_uuid(), p.graduate_id, due.form, '2026.1', t.at,
                  t.at + interval '2 seconds', CAST(:answers AS json) -> due.form, s.score,
                  s.band, CASE WHEN due.form = 'bam'
                               THEN CAST('{{"use": 0, "risk": 3, "protective": 18}}' AS json)
                          END,
                  false, due.form = 'bam'
           FROM bench_people AS p
           CROSS JOIN LATERAL generate_series(
               greatest(:step, (p.days - :reach + :step - 1) / :step * :step), p.days, :step)
               AS d(day)
           JOIN bench_due AS due ON due.day = d.day
           JOIN (SELECT * FROM json_to_recordset(CAST(:scores AS json))
                 AS s(form text, score int, band text)) AS s ON s.form = due.form
           CROSS JOIN LATERAL (
               SELECT {_at("CAST(:day AS date) - p.days + d.day", "'18:00'")} AS at) AS t
           WHERE (due.form <> 'bam' OR p.substance_use)
             AND (due.normal OR p.intensified)
             AND t.at < :first
             AND CASE p.engagement
                     WHEN 'quiet' THEN d.day < p.days - 42
                     WHEN 'skips_forms' THEN d.day < p.days - 45
                     ELSE {_draw(14, "d.day % 1024")} >= 50 END""",
    ),
]


def _day_statements(k: int) -> list[tuple[str, str]]:
    """Day k before DAY (k = 1 is yesterday): check-ins, practice and sent reminders."""
    day = f"CAST(:day AS date) - {k}"
    answered = (
        f"CASE WHEN p.days - {k} <= 30 OR p.intensified THEN 750 WHEN p.days - {k} <= 91 "
        f"THEN 450 WHEN p.days - {k} <= 183 THEN 300 ELSE 200 END"
    )
    screen = f"CASE WHEN {_draw(20, str(k))} < 30 THEN 3 ELSE {_draw(21, str(k), 3)} END"
    return [
        (
            f"check-ins (daily, day -{k})",
            f"""INSERT INTO check_ins (id, graduate_id, questionnaire, form_version, answered_at,
                   submitted_at, answers, score, band, subscales, safety_positive, part2)
               SELECT gen_random_uuid(), p.graduate_id, 'daily', '2026.1', t.at,
                      t.at + interval '1 second',
                      json_build_object('daily-mood', 3 + p.n % 7, 'phq2-1', s.phq2 / 2,
                          'phq2-2', s.phq2 - s.phq2 / 2, 'gad2-1', s.gad2 / 2,
                          'gad2-2', s.gad2 - s.gad2 / 2, 'daily-sleep-hours', 5 + p.n % 4,
                          'daily-safe', 1),
                      NULL, NULL, json_build_object('phq2', s.phq2, 'gad2', s.gad2), false, false
               FROM bench_people AS p
               CROSS JOIN LATERAL (SELECT {screen} AS phq2, p.n % 3 AS gad2) AS s
               CROSS JOIN LATERAL (
                   SELECT {_at(day, "'08:00'")} + {_draw(22, str(k), 720)} * interval '1 minute'
                          AS at) AS t
               WHERE p.engagement <> 'quiet' AND p.days >= {k}
                 AND {_draw(23, str(k))} < {answered}""",
        ),
        (
            f"skill practice (day -{k})",
            f"""INSERT INTO skill_practice (id, graduate_id, skill_id, practiced_at, done,
                   helpfulness)
               SELECT gen_random_uuid(), p.graduate_id,
                      (CAST(:skills AS text[]))[1 + {_draw(24, str(k), len(SKILLS))}],
                      {_at(day, "'12:00'")} + {_draw(25, str(k), 480)} * interval '1 minute',
                      true, {_draw(26, str(k), 11)}
               FROM bench_people AS p
               WHERE p.engagement <> 'quiet' AND p.days >= {k}
                 AND {_draw(27, str(k))} < CASE WHEN p.days - {k} <= 30 THEN 500 ELSE 250 END""",
        ),
        (
            f"notifications (sent, day -{k})",
            f"""INSERT INTO notifications (id, user_id, graduate_id, kind, subject, due_at,
                   expires_at, collapse_key, title, body, link, status, attempts,
                   next_attempt_at, claimed_by, sent_at, delivered_via, created_at, read_at,
                   priority)
               SELECT gen_random_uuid(), p.user_id, p.graduate_id, m.kind,
                      m.prefix || to_char({day}, 'YYYY-MM-DD') || m.suffix, t.due, t.expires,
                      m.kind, m.title, m.body, NULL, 'sent', 1, t.due, 'bench-dispatcher',
                      t.due + interval '3 seconds', 'push', t.due - interval '12 hours',
                      CASE WHEN {_draw(28, str(k))} < 350 THEN t.due + interval '2 hours' END, 1
               FROM bench_people AS p
               CROSS JOIN (VALUES
                   ('skill_practice', 'skill:', 'T09:00', '09:00', :skill_title, :skill_body),
                   ('check_in_due', 'daily:', '', '09:00', :due_title, :due_body),
                   ('check_in_nudge', 'daily:', '', '18:00', :nudge_title, :nudge_body))
                   AS m(kind, prefix, suffix, clock, title, body)
               CROSS JOIN LATERAL (
                   SELECT {_at(day, "m.clock")} AS due, {_at(day, "'21:00'")} AS expires) AS t""",
        ),
    ]


def _parameters(graduates: int) -> dict[str, Any]:
    kinds = {group: True for group in KIND_GROUPS}
    at = FIRST - timedelta(days=1)
    texts = {
        f"{short}_{part}": TEXTS[kind][index]
        for short, kind in (
            ("skill", "skill_practice"),
            ("due", "check_in_due"),
            ("nudge", "check_in_nudge"),
        )
        for index, part in enumerate(("title", "body"))
    }
    return {
        "graduates": graduates,
        "programs": max(1, graduates // PER_PROGRAM),
        "day": DAY,
        "first": FIRST,
        "crisis_lines": json.dumps(default_crisis_lines()),
        "skill_times": json.dumps(DEFAULTS["skill_times"]),
        "quiet_start": DEFAULTS["quiet_start"],
        "quiet_end": DEFAULTS["quiet_end"],
        "daily_cap": DEFAULTS["daily_cap"],
        "kinds": json.dumps(kinds),
        "check_ins_off": json.dumps({**kinds, "check_in": False}),
        "leads": json.dumps(DEFAULTS["appointment_lead_minutes"]),
        "snooze": json.dumps(
            {"all": {"at": at.isoformat(), "until": (FIRST + timedelta(days=1)).isoformat()}}
        ),
        "answers": json.dumps(ANSWERS),
        "scores": json.dumps(
            [{"form": form, "score": s, "band": b} for form, (s, b) in SCORES.items()]
        ),
        "skills": SKILLS,
        "reach": REACH.days,
        **texts,
    }


def _due_days(connection: Connection) -> int:
    """The cadence's due days (no watch open) and the weekly days a watch adds, as a scratch
    table from api/checkins/cadence.py itself; returns their common step (7)."""
    plain = Cadence(DAY, ZoneInfo("UTC"), FULL_FORMS)
    rows = []
    for form in FULL_FORMS:
        for day in range(1, 240 + 1):
            normal = plain.is_due(form, day)
            weekly = day % 7 == 0
            if normal or weekly:
                rows.append({"form": form, "day": day, "normal": normal})
    connection.execute(text("CREATE UNLOGGED TABLE bench_due (form text, day int, normal bool)"))
    connection.execute(text("INSERT INTO bench_due VALUES (:form, :day, :normal)"), rows)
    return math.gcd(*(row["day"] for row in rows))


# Tables loaded by the million (no foreign key points at them): their keys, foreign keys
# and indexes are dropped first and made again after, as a restore does: one pass each
# instead of an index insertion and a check per row.
BULK = ("notifications", "check_ins", "skill_practice", "appointment_reports", "devices")
CONSTRAINTS = """
SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = CAST(%(table)s AS regclass) AND contype IN ('p', 'u', 'f') AND conparentid = 0
ORDER BY contype DESC
"""
INDEXES = """
SELECT CAST(i.indexrelid AS regclass)::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = CAST(%(table)s AS regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


def _drop_for_loading(connection: Connection) -> list[str]:
    """Drops BULK's constraints and indexes; the statements that make them again (keys,
    then indexes, then foreign keys, which are checked against the keys)."""
    keys, indexes, references = [], [], []
    for table in BULK:
        for name, kind, definition in connection.exec_driver_sql(
            CONSTRAINTS, {"table": table}
        ).all():
            connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            made = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            (references if kind == "f" else keys).append(made)
        for name, definition in connection.exec_driver_sql(INDEXES, {"table": table}).all():
            connection.exec_driver_sql(f"DROP INDEX {name}")
            # A partitioned table's index is defined ON ONLY the parent; built on all of it.
            indexes.append(definition.replace(" ON ONLY ", " ON "))
    return keys + indexes + references


def seed(url: str, graduates: int) -> None:
    """Everything above, one statement at a time, each committed; then the dropped keys and
    indexes are rebuilt, and the database vacuumed and analyzed."""
    engine = make_engine(url)
    parameters = _parameters(graduates)
    try:
        with Session(engine) as session:  # the outbox's months, the history's included
            partitions.ensure(session=session, now=FIRST, behind=1)
        with engine.connect() as connection:
            connection.exec_driver_sql("SET work_mem = '256MB'")
            connection.exec_driver_sql("SET maintenance_work_mem = '1GB'")
            parameters["step"] = _due_days(connection)
            restore = _drop_for_loading(connection)
            connection.commit()
            statements = SEED + [
                statement for k in range(HISTORY_DAYS, 0, -1) for statement in _day_statements(k)
            ]
            for label, statement in statements:
                started = time.perf_counter()
                count = connection.execute(text(statement), parameters).rowcount
                connection.commit()
                print(f"  {label:<58} {count:>12,} rows {_since(started):7.1f} s", flush=True)
            connection.exec_driver_sql("DROP TABLE bench_people, bench_due")
            started = time.perf_counter()
            for statement in restore:
                connection.exec_driver_sql(statement)
            connection.commit()
            print(f"  {'keys and indexes made again':<58} {'':>17} {_since(started):7.1f} s")
        with Session(engine) as session:  # as enrolment leaves them: due for the planner
            changes.mark(session, among=[select(Graduate.id)])
            session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            started = time.perf_counter()
            connection.exec_driver_sql("VACUUM (ANALYZE)")
            connection.exec_driver_sql("CHECKPOINT")
            print(f"  {'vacuum, analyze, checkpoint':<58} {'':>17} {_since(started):7.1f} s")
    finally:
        engine.dispose()


# -- the databases ----------------------------------------------------------------------------


class Server:
    """Databases on the local server: created, copied, described and dropped."""

    def __init__(self) -> None:
        self.admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")

    def url(self, name: str) -> str:
        return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def create(self, name: str, template: str | None = None) -> None:
        """A new database, or a file copy of `template` (no WAL for its gigabytes)."""
        statement = f'CREATE DATABASE "{name}"'
        if template is not None:
            statement += f' TEMPLATE "{template}" STRATEGY FILE_COPY'
        with self.admin.connect() as connection:
            connection.exec_driver_sql(statement)

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def describe(self, name: str, about: dict[str, Any]) -> None:
        """What a kept database holds, for --reuse (a comment on the database)."""
        literal = json.dumps(about).replace("'", "''")
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{literal}'")

    def description(self, name: str) -> dict[str, Any] | None:
        with self.admin.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = :name"
                ),
                {"name": name},
            ).scalar()
        try:
            return json.loads(found) if found else None
        except ValueError:
            return None

    def dispose(self) -> None:
        self.admin.dispose()


# -- the measures -----------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    seconds: float | None  # None: the step failed
    floor: float | None = None
    goal: float | None = None
    ok: bool = True  # what the step must do besides its time (e.g. insert nothing)
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.seconds is None:
            return "FAILED"
        if self.goal is None:
            return "(no goal)" if self.ok else "MISS"
        return "PASS" if self.ok and self.seconds <= self.goal else "MISS"


def _since(started: float) -> float:
    return time.perf_counter() - started


def _planner_jobs() -> tuple[list[str], list[str]]:
    """The reminders.* jobs of JOBS: those on an interval (the planner proper) and the rest
    (e.g. a daily full reconcile)."""
    ids = [job_id for job_id in JOBS if job_id.startswith("reminders.")]
    frequent = [job_id for job_id in ids if isinstance(JOBS[job_id].trigger, IntervalTrigger)]
    return frequent, [job_id for job_id in ids if job_id not in frequent]


def _run_jobs(database: Database, job_ids: list[str], now: datetime) -> tuple[float, int]:
    """The jobs one after the other, each in its own session as jobs/scheduler.run_job runs
    it; seconds, and the sum of what they return (rows inserted, for the planner)."""
    started, count = time.perf_counter(), 0
    for job_id in job_ids:
        session = database.session()
        try:
            count += JOBS[job_id].run(session=session, now=now)
            session.commit()
        finally:
            database.session.remove()
    return _since(started), count


@dataclass(frozen=True)
class Burst:
    """The largest zone's next 09:00 (its first skill slot) after the steady run, and the
    planner runs that write its reminders to the outbox."""

    zone: str
    graduates: int
    slot: datetime

    @property
    def enters(self) -> datetime:
        """When the slot enters the planner's horizon: skills and appointments are planned."""
        return self.slot - getattr(planner, "HORIZON", timedelta(hours=12))

    @property
    def midnight(self) -> datetime:
        """The start of the slot's local day: a check-in due that day is planned then."""
        local = self.slot.astimezone(ZoneInfo(self.zone))
        return datetime.combine(local.date(), wall(), ZoneInfo(self.zone)).astimezone(UTC)

    @classmethod
    def after(cls, database: Database, instant: datetime) -> Burst:
        with database.engine.connect() as connection:
            zone, count = connection.exec_driver_sql(
                "SELECT timezone, count(*) FROM graduates GROUP BY timezone ORDER BY 2 DESC LIMIT 1"
            ).one()
        horizon = getattr(planner, "HORIZON", timedelta(hours=12))
        slot = parse_hhmm(DEFAULTS["skill_times"][0])
        local = (instant + horizon).astimezone(ZoneInfo(zone))
        day = local.date() if local.time() < slot else local.date() + timedelta(days=1)
        return cls(zone, count, datetime.combine(day, slot, ZoneInfo(zone)).astimezone(UTC))


COPIED = (
    "user_id, graduate_id, kind, due_at, expires_at, collapse_key, title, body, link, "
    "priority, next_attempt_at"
)


def _insert_floor(database: Database, at: datetime) -> tuple[float | None, str]:
    """A plain INSERT … SELECT of copies of the rows written at `at` (other subjects),
    prepared in a scratch table first and rolled back; then the dead rows are vacuumed.
    Returns its seconds (None: no rows) and the rows by kind."""
    with database.engine.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE floor_rows AS SELECT {COPIED}, subject || '+floor' AS subject "
            "FROM notifications WHERE created_at = %(at)s",
            {"at": at},
        )
        kinds = connection.exec_driver_sql(
            "SELECT kind, count(*) FROM floor_rows GROUP BY kind ORDER BY 2 DESC"
        ).all()
        count = sum(rows for _, rows in kinds)
        connection.commit()
        seconds = None
        if count:
            started = time.perf_counter()
            connection.exec_driver_sql(
                f"INSERT INTO notifications (id, {COPIED}, subject, status, attempts, "
                f"created_at) SELECT gen_random_uuid(), {COPIED}, subject, 'pending', 0, "
                "%(at)s FROM floor_rows",
                {"at": at},
            )
            seconds = _since(started)
            connection.rollback()
        connection.exec_driver_sql("DROP TABLE floor_rows")
        connection.commit()
    _vacuum(database, "notifications")
    return seconds, ", ".join(f"{kind} {rows:,}" for kind, rows in kinds)


def _vacuum(database: Database, table: str = "") -> None:
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def _fetch_all(database: Database, statements: list[str], parameters: dict[str, Any]) -> float:
    """Seconds to run the statements and fetch every row (no ORM, no decisions), streamed
    so that millions of rows never sit in memory at once."""
    with database.engine.connect().execution_options(yield_per=20_000) as connection:
        started = time.perf_counter()
        for statement in statements:
            for _rows in connection.exec_driver_sql(statement, parameters).partitions():
                pass
        return _since(started)


READ_FLOOR = [
    "SELECT g.id, g.user_id, g.timezone, g.graduation_date, g.substance_use, p.skill_times, "
    "p.quiet_start, p.quiet_end, p.daily_cap, p.kinds, p.maintenance_weekly, "
    "p.appointment_lead_minutes, p.paused_until, p.snoozes FROM graduates g "
    "LEFT JOIN reminder_preferences p ON p.graduate_id = g.id WHERE g.user_id IS NOT NULL",
    "SELECT id, graduate_id, kind, subject, due_at, expires_at, status FROM notifications "
    "WHERE due_at >= %(since)s AND kind = ANY(%(kinds)s)",
]
FLAGS_FLOOR = [
    "SELECT id, program_id, graduation_date, timezone, substance_use, last_active_at "
    "FROM graduates",
    "SELECT graduate_id, questionnaire, answered_at FROM check_ins "
    "WHERE questionnaire = ANY(%(forms)s) AND answered_at >= %(since)s",
    "SELECT a.graduate_id, r.status, r.occurrence_start FROM appointment_reports r "
    "JOIN appointments a ON a.id = r.appointment_id",
    "SELECT graduate_id, kind, source, status, raised_at, resolved_at FROM flags "
    "WHERE kind IN ('watch', 'step_up') AND (resolved_at IS NULL OR resolved_at >= %(since)s)",
]


def _first(database: Database, jobs: list[str], graduates: int) -> Figure:
    seconds, inserted = _run_jobs(database, jobs, FIRST)
    floor, kinds = _insert_floor(database, FIRST)
    return Figure(
        "planner, first run (nothing planned yet)",
        seconds,
        floor,
        goal=FIRST_GOAL_PER_100K * graduates / 100_000,
        note=f"inserted {inserted:,} ({kinds}); floor: INSERT … SELECT of as many rows; "
        f"goal: issue 23's 10 s per 100,000 graduates",
    )


def _steady(database: Database, jobs: list[str]) -> Figure:
    seconds, inserted = _run_jobs(database, jobs, STEADY)
    floor = _fetch_all(
        database, READ_FLOOR, {"since": STEADY - timedelta(days=3), "kinds": list(REMINDER_KINDS)}
    )
    return Figure(
        "planner, steady run (nothing changed)",
        seconds,
        floor,
        goal=GOALS["steady"],
        ok=inserted == 0,
        note=f"inserted {inserted} (must be 0); floor: one full read of graduates, "
        "preferences and 3 days of outbox",
    )


def _reconcile(database: Database, jobs: list[str]) -> Figure:
    seconds, inserted = _run_jobs(database, jobs, STEADY)
    return Figure(
        f"reconcile ({', '.join(jobs)})",
        seconds,
        ok=inserted == 0,
        note=f"inserted {inserted} (must be 0)",
    )


def _flags(database: Database) -> Figure:
    parameters = {"since": FLAGS - time_rules.ANSWERS_SINCE, "forms": list(FULL_FORMS)}
    floor = _fetch_all(database, FLAGS_FLOOR, parameters)
    session = database.session()
    try:
        started = time.perf_counter()
        touched = time_rules.run_daily(session=session, now=FLAGS)
        session.commit()
        seconds = _since(started)
    finally:
        database.session.remove()
    with database.engine.connect() as connection:
        rules = connection.exec_driver_sql(
            "SELECT rule, count(*) FROM flags WHERE updated_at = %(now)s GROUP BY rule "
            "ORDER BY 2 DESC",
            {"now": FLAGS},
        ).all()
    return Figure(
        "daily flag run (time_rules.run_daily)",
        seconds,
        floor,
        goal=GOALS["flags"],
        note=f"{touched:,} flags raised or updated ("
        + ", ".join(f"{rule} {count:,}" for rule, count in rules)
        + "); floor: plain SELECTs of what it reads",
    )


def _catch_up(database: Database, jobs: list[str], at: datetime) -> Figure:
    seconds, inserted = _run_jobs(database, jobs, at)
    return Figure(f"planner catch-up at {at:%H:%M:%S} UTC", seconds, note=f"{inserted:,} rows")


def _burst(database: Database, jobs: list[str], burst: Burst, at: datetime, what: str) -> Figure:
    seconds, inserted = _run_jobs(database, jobs, at)
    floor, kinds = _insert_floor(database, at)
    local = at.astimezone(ZoneInfo(burst.zone))
    return Figure(
        f"09:00 burst: {what}",
        seconds,
        floor,
        goal=GOALS["burst"],
        note=f"the run at {local:%H:%M:%S} in {burst.zone} inserted {inserted:,} ({kinds}), "
        f"{inserted / max(burst.graduates, 1):.2f} per graduate of the zone; "
        "floor: INSERT … SELECT of as many",
    )


def _step(figures: list[Figure], name: str, work: Callable[[], Figure]) -> None:
    """One measure; a failure is printed and recorded, and the next still runs."""
    print(f"\n{name} …", flush=True)
    try:
        figure = work()
    except Exception:
        traceback.print_exc()
        figure = Figure(name, None, note="failed: see the traceback above")
    figures.append(figure)
    print(f"  {_line(figure)}  [load {os.getloadavg()[0]:.1f}]", flush=True)
    if figure.note:
        print(f"  {figure.note}", flush=True)


def _line(figure: Figure) -> str:
    seconds = "—" if figure.seconds is None else f"{figure.seconds:8.1f} s"
    floor = "" if figure.floor is None else f"floor {figure.floor:7.1f} s"
    ratio = (
        f"{figure.seconds / figure.floor:6.2f}x"
        if figure.seconds is not None and figure.floor
        else ""
    )
    goal = "" if figure.goal is None else f"goal <= {figure.goal:,.{figure.goal < 10:d}f} s"
    return f"{figure.name:<44} {seconds:>10} {floor:>15} {ratio:>7} {goal:>14}  {figure.verdict}"


# -- sizes ------------------------------------------------------------------------------------

SIZES = """
SELECT c.relname,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)
                  FROM pg_partition_tree(c.oid) AS t WHERE t.isleaf)
            ELSE pg_total_relation_size(c.oid) END AS bytes
FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
WHERE s.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY bytes DESC
"""


def sizes(database: Database, graduates: int) -> None:
    """Bytes per table (indexes and TOAST included) and per graduate, with exact row counts."""
    with database.engine.connect() as connection:
        tables = connection.exec_driver_sql(SIZES).all()
        total = connection.exec_driver_sql(
            "SELECT pg_database_size(current_database())"
        ).scalar_one()
        print(
            f"\n{'table':<24} {'rows':>13} {'per graduate':>13} {'bytes/row':>10} "
            f"{'bytes/graduate':>15} {'MB':>9}"
        )
        small = 0
        for name, size in tables:
            if size < total / 200:
                small += size
                continue
            rows = connection.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one()
            print(
                f"{name:<24} {rows:>13,} {rows / graduates:>13.2f} "
                f"{size / max(rows, 1):>10,.0f} {size / graduates:>15,.0f} {size / 2**20:>9,.0f}"
            )
    for name, size in (("the other tables", small), ("database", total)):
        print(f"{name:<24} {'':>52} {size / graduates:>15,.0f} {size / 2**20:>9,.0f}")


def planned_per_day(database: Database, graduates: int, instants: list[datetime]) -> None:
    """What the planner runs of this bench wrote for the graduates' local day DAY: the
    outbox's daily growth per graduate, by kind."""
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT n.kind, count(*) FROM notifications n JOIN graduates g "
            "ON g.id = n.graduate_id WHERE n.created_at = ANY(%(instants)s) "
            "AND CAST(n.due_at AT TIME ZONE g.timezone AS date) = %(day)s "
            "GROUP BY n.kind ORDER BY n.kind",
            {"instants": instants, "day": DAY},
        ).all()
    total = sum(count for _, count in rows)
    kinds = ", ".join(f"{kind} {count / graduates:.2f}" for kind, count in rows)
    print(
        f"\noutbox rows planned for the graduates' local {DAY:%A %Y-%m-%d}: "
        f"{total:,} = {total / graduates:.2f} per graduate ({kinds})"
    )


# -- the run ----------------------------------------------------------------------------------


def measure(url: str, graduates: int) -> list[Figure]:
    migrate.upgrade(url)  # a no-op on a database at head; a kept one may predate a migration
    database = Database(url)
    try:
        sizes(database, graduates)
        frequent, others = _planner_jobs()
        print(
            f"\nthe planner: {', '.join(frequent) or 'no reminders.* job on an interval'}"
            + (f"; also {', '.join(others)}" if others else "")
        )
        burst = Burst.after(database, STEADY)
        figures: list[Figure] = []
        _step(figures, "planner, first run", lambda: _first(database, frequent, graduates))
        _step(figures, "planner, steady run", lambda: _steady(database, frequent))
        if others:
            _step(figures, "reconcile", lambda: _reconcile(database, others))
        _step(figures, "daily flag run", lambda: _flags(database))
        runs = [FIRST, STEADY]
        for moment, what in ((burst.enters, "the slots"), (burst.midnight, "its check-ins")):
            before, after = moment - TICK / 2, moment + TICK / 2
            _step(figures, "planner catch-up", lambda at=before: _catch_up(database, frequent, at))
            _step(
                figures,
                f"09:00 burst, {what}",
                lambda at=after, what=what: _burst(database, frequent, burst, at, what),
            )
            runs += [before, after]
        planned_per_day(database, graduates, runs)
        return figures
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graduates", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--reuse", metavar="NAME", help="a database a --keep run left")
    args = parser.parse_args()
    print(
        f"bench.million: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"simulated day {DAY:%A %Y-%m-%d}"
    )
    with ExitStack() as stack:
        server = Server()
        stack.callback(server.dispose)
        if args.reuse:
            if not NAME.match(args.reuse):
                print(f"not a database name: {args.reuse!r}")
                return
            about = server.description(args.reuse)
            if not about or about.get("day") != DAY.isoformat():
                print(f"{args.reuse} was not seeded by this version of bench.million; reseed")
                return
            seeded, graduates, seed_seconds = args.reuse, about["graduates"], about["seconds"]
            print(f"reusing {seeded}: {graduates:,} graduates (seeded in {seed_seconds:.0f} s)")
        else:
            graduates = args.graduates
            seeded = f"companion_million_{uuid.uuid4().hex[:8]}"
            server.create(seeded)
            if not args.keep:
                stack.callback(server.drop, seeded)
            migrate.upgrade(server.url(seeded))
            print(f"seeding {graduates:,} graduates into {seeded}:", flush=True)
            started = time.perf_counter()
            seed(server.url(seeded), graduates)
            seed_seconds = _since(started)
            migrate.check(server.url(seeded))  # every key and index is back as migrated
            server.describe(
                seeded, {"day": DAY.isoformat(), "graduates": graduates, "seconds": seed_seconds}
            )
        work = seeded
        if args.keep or args.reuse:
            work = f"{seeded}_run_{uuid.uuid4().hex[:4]}"
            started = time.perf_counter()
            server.create(work, template=seeded)
            stack.callback(server.drop, work)
            print(f"measuring on a copy, {work} (copied in {_since(started):.0f} s)")
        seeding = Figure(f"seed ({graduates:,} graduates, SQL on the server)", seed_seconds)
        figures = [seeding, *measure(server.url(work), graduates)]
        print(f"\n{'':<44} {'seconds':>10} {'floor':>15} {'ratio':>7} {'goal':>14}  verdict")
        for figure in figures:
            print(_line(figure))
        if args.keep:
            print(f"\nkept {seeded}: rerun with --reuse {seeded}; drop it with")
            print(f"  psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE \"{seeded}\"' test")


if __name__ == "__main__":
    main()
