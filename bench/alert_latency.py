"""Alert latency: from an unsafe check-in's commit to the alert's FCM send, with and
without the 09:00 reminder burst draining.

    .venv/bin/python -m bench.alert_latency [--graduates 100000] [--seconds 60]

On a throwaway PostgreSQL database: `bench.push_pipeline`'s graduates (each with a phone)
and its `reminders.plan` run at 08:00, two reminders per graduate due at 09:00; plus one
staff member and one therapist (a phone each) and the graduates who check in, on that
therapist's caseload with consent. The fake FCM runs in its own process
(bench/fake_fcm.py), each dispatcher in its own, in the production loop (a pass; 2 s of
waiting when nothing was due). Runs:

1. alerts alone: an unsafe daily check-in every second for --seconds s, through the real
   route (Flask test client in this process: access, scoring, flag, alerts, commit);
2. the burst alone through 1 dispatcher, then the burst with the check-ins; the same with
   2 dispatchers.

Each check-in raises an urgent flag that alerts 2 people (staff and the therapist): the
latency of each alert is the fake FCM's first accepted message for it minus the moment
the check-in's reply came back (the commit). Prints p50/p99/max for all alerts and for
those committed while reminders were still draining, lost and doubled alerts, and the
reminders' own throughput with and without the alerts (the priority lane's cost).
Informational only: it always exits 0; no goal here is a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from api import create_app, devtokens, migrate
from api.clock import FrozenClock
from api.db import make_engine
from api.flags.models import Flag, FlagEvent
from api.graduates.models import CareTeamMember, Consent, Graduate
from api.notifications import partitions
from api.notifications.models import Device, Notification
from api.programs.models import Membership, Program, Role
from api.users.models import User
from bench import fake_fcm, push_pipeline
from bench.request_overhead import _throwaway_postgres

DELIVER_AT = push_pipeline.DELIVER_AT
UNSAFE = {"daily-mood": 2, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0, "daily-safe": 0}
# The 09:00 burst: reminders due by then (the planner also wrote the rest of the day's).
REMINDERS = (Notification.kind != "alert") & (Notification.due_at <= DELIVER_AT)
IDLE_SECONDS = 2.0  # jobs/dispatcher.py's default
FAKE_PORT = push_pipeline.FAKE_PORT + 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graduates", type=int, default=100_000, help="default 100000")
    parser.add_argument("--seconds", type=int, default=60, help="one check-in a second")
    parser.add_argument("--batch", type=int, default=500, help="dispatcher claim batch")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--fcm", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    with ExitStack() as stack:
        _parent(args, stack)


def _parent(args: argparse.Namespace, stack: ExitStack) -> None:
    print(f"alert latency: {args.graduates:,} graduates, {args.seconds} check-ins per run")
    url = _throwaway_postgres(stack)
    migrate.upgrade(url)
    engine = make_engine(url)
    stack.callback(engine.dispose)
    # The bench's clock is fixed; the migration made the outbox's months around today.
    with Session(engine) as session:
        partitions.ensure(session=session, now=push_pipeline.PLAN_AT, behind=1)
    fcm_url = fake_fcm.in_process_of_its_own(stack, FAKE_PORT)
    push_pipeline._seed(engine, args.graduates)
    _, reminders, _, _ = push_pipeline._materialize(engine)
    people = _care_team(engine, args.seconds)
    app = create_app(
        {
            "COMPANION_ENV": "test",
            "DATABASE_URL": url,
            "FIREBASE_PROJECT_ID": "demo-companion",
            "CLOCK": FrozenClock(DELIVER_AT),
            "WRITE_LIMIT": "100000 per minute",
            "LOG_LEVEL": "WARNING",
        }
    )
    stack.callback(app.extensions["companion"].db.dispose)
    with Session(engine) as session:
        due = session.scalar(select(func.count()).where(REMINDERS))
    print(f"{reminders:,} reminders planned, {due:,} due at 09:00; batch {args.batch}\n")

    runs = {}
    for key, dispatchers, burst, alerts in (
        (("alerts alone", 1), 1, False, True),
        (("burst alone", 1), 1, True, False),
        (("burst + alerts", 1), 1, True, True),
        (("burst alone", 2), 2, True, False),
        (("burst + alerts", 2), 2, True, True),
    ):
        _reset(engine, fcm_url, burst=burst)
        runs[key] = _run(app, engine, url, fcm_url, args, people if alerts else [], dispatchers)
        _print(f"{key[0]}, {dispatchers} dispatcher{'s' * (dispatchers > 1)}", runs[key])

    print()
    alone = runs[("alerts alone", 1)]["all"]
    for n in (1, 2):
        during = runs[("burst + alerts", n)]["during"]
        if during and alone:
            ratio = during[1] / alone[1]
            print(
                f"{n} dispatcher{'s' * (n > 1)}: alert p99 during the burst {during[1]:.2f} s "
                f"[goal <= 5 s: {_mark(during[1] <= 5)}], {ratio:.2f}x the no-burst p99 "
                f"[goal <= 2x: {_mark(ratio <= 2)}]"
            )
    for n in (1, 2):
        plain, mixed = runs[("burst alone", n)], runs[("burst + alerts", n)]
        cost = 1 - mixed["rate"] / plain["rate"]
        print(
            f"reminders, {n} dispatcher{'s' * (n > 1)}: {plain['rate']:,.0f} msg/s alone, "
            f"{mixed['rate']:,.0f} msg/s beside the alerts ({cost:.1%} slower) "
            f"[goal <= 5%: {_mark(cost <= 0.05)}]"
        )
    print("(README's bench.push_pipeline figures, 100,000 graduates: 710 and 1,267 msg/s)")
    clean = all(r["lost"] == 0 and r["doubled"] == 0 for r in runs.values())
    print(f"alerts lost or doubled: {_mark(clean)} (all zero)")


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _care_team(engine, count: int) -> list[tuple[uuid.UUID, str]]:
    """One staff member and one therapist with a phone each; `count` consenting graduates
    on the therapist's caseload who will check in: (graduate id, email)."""
    now = push_pipeline.PLAN_AT
    with Session(engine) as session:
        program = session.scalar(select(Program.id).where(Program.name == "Bench IOP"))
        memberships = {}
        for role in (Role.STAFF, Role.THERAPIST):
            email = f"bench-{role.value}@example.org"
            user = uuid.uuid4()
            session.execute(
                insert(User),
                [
                    {
                        "id": user,
                        "firebase_uid": devtokens.uid_for(email),
                        "email": email,
                        "created_at": now,
                    }
                ],
            )
            memberships[role] = (uuid.uuid4(), user)
            session.execute(
                insert(Membership),
                [
                    {
                        "id": memberships[role][0],
                        "program_id": program,
                        "email": email,
                        "role": role,
                        "user_id": user,
                        "created_at": now,
                    }
                ],
            )
            session.execute(
                insert(Device),
                [
                    {
                        "user_id": user,
                        "token": f"bench-{role.value}-phone",
                        "platform": "android",
                        "created_at": now,
                        "last_seen_at": now,
                    }
                ],
            )
        people = []
        for n in range(count):
            email, user, graduate = f"bench-unsafe-{n}@example.org", uuid.uuid4(), uuid.uuid4()
            session.execute(
                insert(User),
                [
                    {
                        "id": user,
                        "firebase_uid": devtokens.uid_for(email),
                        "email": email,
                        "created_at": now,
                    }
                ],
            )
            session.execute(
                insert(Graduate),
                [
                    {
                        "id": graduate,
                        "program_id": program,
                        "user_id": user,
                        "display_name": f"Unsafe {n}",
                        "graduation_date": push_pipeline.DAY - timedelta(days=3),
                        "timezone": "America/Chicago",
                        "substance_use": False,
                        "baseline_phq9": 8,
                        "baseline_gad7": 6,
                        "created_at": now,
                    }
                ],
            )
            therapist_membership, therapist = memberships[Role.THERAPIST]
            session.execute(
                insert(CareTeamMember),
                [
                    {
                        "id": uuid.uuid4(),
                        "graduate_id": graduate,
                        "membership_id": therapist_membership,
                        "created_at": now,
                    }
                ],
            )
            session.execute(
                insert(Consent),
                [
                    {
                        "id": uuid.uuid4(),
                        "graduate_id": graduate,
                        "therapist_user_id": therapist,
                        "share_check_ins": True,
                        "share_substance_use": False,
                        "granted_at": now,
                        "updated_at": now,
                    }
                ],
            )
            people.append((graduate, email))
        session.commit()
    return people


def _reset(engine, fcm_url: str, *, burst: bool) -> None:
    """Drop the last run's alerts; the reminders due again (burst) or already sent."""
    with Session(engine) as session:
        session.execute(delete(Notification).where(Notification.kind == "alert"))
        session.execute(
            update(Notification)
            .where(REMINDERS)
            .values(
                status="pending" if burst else "sent",
                attempts=0,
                next_attempt_at=Notification.due_at,
                claimed_by=None,
                claim_expires_at=None,
            )
        )
        urgent = select(Flag.id).where(Flag.kind == "urgent").scalar_subquery()
        session.execute(delete(FlagEvent).where(FlagEvent.flag_id.in_(urgent)))
        session.execute(delete(Flag).where(Flag.kind == "urgent"))
        session.commit()
    urllib.request.urlopen(urllib.request.Request(f"{fcm_url}/reset", method="POST")).read()


def _run(app, engine, url, fcm_url, args, people, dispatchers: int) -> dict:
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.alert_latency",
                "--child",
                "--url",
                url,
                "--fcm",
                fcm_url,
                "--batch",
                str(args.batch),
                "--name",
                f"d{n}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(dispatchers)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    client = app.test_client()
    with Session(engine) as session:
        reminders = session.scalar(
            select(func.count()).where(REMINDERS, Notification.status == "pending")
        )
    committed: dict[str, float] = {}
    started = time.time()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    drained: dict[str, float] = {"at": started}
    watcher = threading.Thread(target=_watch_drain, args=(engine, drained), daemon=True)
    watcher.start()
    for n, (graduate_id, email) in enumerate(people):
        wait = started + n + 0.5 - time.time()
        if wait > 0:
            time.sleep(wait)
        token = devtokens.mint(project_id="demo-companion", email=email, now=DELIVER_AT)
        response = client.post(
            f"/api/v1/graduates/{graduate_id}/check-ins",
            json={
                "questionnaire": "daily",
                "answers": UNSAFE,
                "answered_at": DELIVER_AT.isoformat(),
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        committed[response.json["id"]] = time.time()
        assert response.status_code == 201, response.json
    _wait_for_alerts(engine, len(people) * 2)
    watcher.join()
    drained_at = drained["at"] if reminders else None
    for child in children:
        child.stdin.write("stop\n")
        child.stdin.flush()
        child.wait()
    latencies, during, lost, doubled = _latencies(engine, fcm_url, committed, drained_at)
    seconds = drained["at"] - started
    return {
        "alerts": len(latencies),
        "all": _percentiles(latencies),
        "during": _percentiles(during),
        "during_n": len(during),
        "lost": lost,
        "doubled": doubled,
        "reminders": reminders,
        "seconds": seconds,
        "rate": reminders / seconds if seconds > 0 else 0.0,
    }


def _watch_drain(engine, box: dict[str, float]) -> None:
    """When no reminder is left pending or claimed (polled every 0.2 s)."""
    with Session(engine) as session:
        while True:
            left = session.scalar(
                select(func.count()).where(
                    REMINDERS, Notification.status.in_(("pending", "claimed"))
                )
            )
            session.rollback()
            if not left:
                box["at"] = time.time()
                return
            time.sleep(0.2)


def _wait_for_alerts(engine, expected: int, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    with Session(engine) as session:
        while time.time() < deadline:
            done = session.scalar(
                select(func.count()).where(
                    Notification.kind == "alert", Notification.status == "sent"
                )
            )
            session.rollback()
            if done >= expected:
                return
            time.sleep(0.2)


def _latencies(engine, fcm_url, committed, drained_at):
    with Session(engine) as session:
        evidence = {
            f"flag:{flag_id}": cited[0]
            for flag_id, cited in session.execute(
                select(Flag.id, Flag.evidence).where(Flag.kind == "urgent")
            )
        }
        rows = session.execute(
            select(Notification.id, Notification.status, Notification.subject).where(
                Notification.kind == "alert"
            )
        ).all()
    ids = [str(row.id) for row in rows]
    request = urllib.request.Request(
        f"{fcm_url}/arrivals", data=json.dumps(ids).encode(), method="POST"
    )
    arrivals = json.load(urllib.request.urlopen(request))
    latencies, during, lost, doubled = [], [], 0, 0
    for row in rows:
        arrival = arrivals.get(str(row.id))
        if arrival is None or row.status != "sent":
            lost += 1
            continue
        first, count = arrival
        doubled += count > 1
        commit = committed[evidence[row.subject]]
        latencies.append(first - commit)
        if drained_at is None or commit < drained_at:
            during.append(first - commit)
    return latencies, during, lost, doubled


def _percentiles(values: list[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def _print(label: str, r: dict) -> None:
    def cell(stats):
        return "-" if stats is None else f"{stats[0]:.2f} / {stats[1]:.2f} / {stats[2]:.2f}"

    parts = []
    if r["alerts"]:
        parts.append(f"alerts {r['alerts']:>3}: p50/p99/max {cell(r['all'])} s")
        if r["reminders"]:
            parts.append(f"during the burst ({r['during_n']}): {cell(r['during'])} s")
        parts.append(f"lost {r['lost']}, doubled {r['doubled']}")
    if r["reminders"]:
        parts.append(
            f"reminders {r['reminders']:,} drained in {r['seconds']:.1f} s = {r['rate']:,.0f} msg/s"
        )
    print(f"{label:<30} " + "; ".join(parts), flush=True)


# -- a dispatcher process ------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    from api.notifications import senders
    from api.notifications.dispatch import Dispatcher
    from bench.fake_fcm import FakeFcm

    account = FakeFcm.service_account_for(args.fcm)
    sender = senders.FcmSender(
        project_id=account["project_id"],
        credentials=account,
        base_url=args.fcm,
        env="test",
        timeout=30.0,
    )
    engine = make_engine(args.url, pool_size=2)
    dispatcher = Dispatcher(
        session_factory=scoped_session(sessionmaker(bind=engine, expire_on_commit=False)),
        sender=sender,
        clock=FrozenClock(DELIVER_AT),
        name=args.name,
        batch_size=args.batch,
    )
    stop = threading.Event()
    print("ready", flush=True)
    sys.stdin.readline()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    while not stop.is_set():  # Dispatcher.run_forever's loop, without its logging
        if not dispatcher.run_once().claimed:
            stop.wait(IDLE_SECONDS)
    sender.close()
    engine.dispose()


if __name__ == "__main__":
    main()
