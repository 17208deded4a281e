"""Load: the real gunicorn app on PostgreSQL under a realistic mix, with the 09:00 spike.

    .venv/bin/python -m bench.load_mix [--graduates 400] [--therapists 20] [--users 150]
                                       [--seconds 60] [--spike 20000]

On a throwaway PostgreSQL database (created and dropped):
1. seeds a program through the API itself (in-process): therapists, graduates enrolled
   with their codes, consent to their therapist, a PHQ-9 and a daily check-in each (one in
   ten worse than baseline, so some flags are open), and one weekly-summary run;
2. starts gunicorn (sync workers, 2 x cores + 1) and locust (bench/locustfile.py,
   headless, bounded by --seconds): graduates open the app (`/me`, `today`), check in,
   read trends and history; therapists read flags, summaries and the caseload;
3. at the same time, the 09:00 reminder spike on the same database: --spike more
   graduates, each with a device, whose skill reminders the planner materializes and one
   dispatcher delivers through the local fake FCM (bench/fake_fcm.py), on a frozen clock.

Prints per-route requests/s, p50/p95/p99 and failures from locust, the total error rate,
and the spike's figures (rows planned, seconds, messages/s, lost and duplicated).
Informational only: it always exits 0. The load generator runs on the same machine and
takes CPU from the server; the printed core count says how much there was.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from api import create_app, devtokens, migrate
from api.clock import FrozenClock
from api.db import make_engine
from api.notifications import partitions
from api.notifications.models import Notification
from api.programs.service import create_program
from api.summaries.service import run_weekly
from bench import fake_fcm
from bench.checkin_throughput import WORKERS, _free_port, start_server
from bench.push_pipeline import DELIVER_AT, PLAN_AT
from bench.push_pipeline import _seed as seed_spike_graduates
from bench.request_overhead import _throwaway_postgres

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_ID = "demo-companion"
STAFF = "load-staff@example.org"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graduates", type=int, default=400)
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--users", type=int, default=150, help="concurrent locust users")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spike", type=int, default=20_000, help="graduates due at 09:00")
    parser.add_argument("--spike-child", help=argparse.SUPPRESS)
    parser.add_argument("--fcm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.spike_child:
        _spike(args.spike_child, args.fcm)
        return
    with ExitStack() as stack:
        _run(args, stack)


def _run(args: argparse.Namespace, stack: ExitStack) -> None:
    print(
        f"load mix: {args.graduates} graduates, {args.therapists} therapists, "
        f"{args.users} locust users for {args.seconds} s; spike {args.spike:,}; "
        f"gunicorn sync x {WORKERS}; {os.cpu_count()} cores"
    )
    url = _throwaway_postgres(stack)
    migrate.upgrade(url)
    engine = make_engine(url)
    stack.callback(engine.dispose)
    # The bench's clock is fixed; the migration made the outbox's months around today.
    with Session(engine) as session:
        partitions.ensure(session=session, now=PLAN_AT, behind=1)
    started = time.perf_counter()
    people = _seed(url, args.graduates, args.therapists)
    if args.spike:
        seed_spike_graduates(engine, args.spike)
    print(f"seeded in {time.perf_counter() - started:.1f} s")

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    people_file = workdir / "people.json"
    people_file.write_text(json.dumps(people))
    port = start_server(stack, "full", url, f"load-{os.getpid()}")
    _wait_until_healthy(port)

    fcm_url = fake_fcm.in_process_of_its_own(stack, _free_port())

    locust = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            str(PROJECT_DIR / "bench" / "locustfile.py"),
            "--headless",
            "--only-summary",
            "--host",
            f"http://127.0.0.1:{port}",
            "-u",
            str(args.users),
            "-r",
            str(max(1, args.users // 10)),
            "-t",
            f"{args.seconds}s",
            "--csv",
            str(workdir / "load"),
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, "LOAD_PEOPLE": str(people_file)},
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    spike = None
    if args.spike:
        time.sleep(min(15, args.seconds / 4))  # let the users ramp up before 09:00 strikes
        spike = subprocess.run(
            [sys.executable, "-m", "bench.load_mix", "--spike-child", url, "--fcm", fcm_url],
            capture_output=True,
            text=True,
            cwd=PROJECT_DIR,
            check=False,
        )
    _, errors = locust.communicate()
    _report(workdir / "load_stats.csv", workdir / "load_failures.csv", errors)
    if spike is not None:
        _report_spike(spike, engine, fcm_url)


def _seed(url: str, graduates: int, therapists: int) -> dict:
    """People made through the API, so every row is what real use would leave."""
    app = create_app(
        {
            "COMPANION_ENV": "test",
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            # One staff member enrolling hundreds at once is a script, which the limits stop.
            "WRITE_LIMIT": "100000 per minute",
            "SIGN_IN_LIMIT": "100000 per minute",
        }
    )
    runtime = app.extensions["companion"]
    now = datetime.now(UTC)
    with app.app_context():
        program = create_program(
            session=runtime.db.session, name="Load IOP", admin_email=STAFF, now=now
        )
        runtime.db.session.commit()
        program_id = str(program.id)
    client = app.test_client()
    therapist_emails = [f"load-therapist-{n}@example.org" for n in range(therapists)]
    people = {"project_id": PROJECT_ID, "graduates": [], "therapists": []}
    for n in range(graduates):
        therapist = therapist_emails[n % therapists]
        created = _call(
            app,
            client,
            STAFF,
            "POST",
            f"/api/v1/programs/{program_id}/graduates",
            {
                "display_name": f"Graduate {n}",
                "graduation_date": (now - timedelta(days=20 + n % 150)).date().isoformat(),
                "timezone": "America/Chicago",
                "substance_use": False,
                "baseline": {"phq9": 8, "gad7": 6},
                "therapist_email": therapist,
            },
        )
        email = f"load-graduate-{n}@example.org"
        code = {"code": created["enrollment_code"]}
        _call(app, client, email, "POST", "/api/v1/enrollments", code)
        if n < therapists:
            _call(app, client, therapist, "GET", "/api/v1/me")
            people["therapists"].append({"email": therapist})
        graduate_id = created["id"]
        team = _call(app, client, email, "GET", f"/api/v1/graduates/{graduate_id}/care-team")
        therapist_user = next(m["user_id"] for m in team if m["email"] == therapist)
        _call(
            app,
            client,
            email,
            "PUT",
            f"/api/v1/graduates/{graduate_id}/consents/{therapist_user}",
            {"share_check_ins": True, "share_substance_use": False},
        )
        worse = n % 10 == 0
        _call(
            app,
            client,
            email,
            "POST",
            f"/api/v1/graduates/{graduate_id}/check-ins",
            {
                "questionnaire": "phq9",
                "answers": {f"phq9-{i}": (2 if worse else 1) for i in range(1, 9)} | {"phq9-9": 0},
                "answered_at": (now - timedelta(days=3)).isoformat(),
            },
        )
        people["graduates"].append({"email": email, "graduate_id": graduate_id})
    with app.app_context():
        run_weekly(session=runtime.db.session, now=now)
        runtime.db.session.commit()
    runtime.db.dispose()
    return people


def _call(app: Flask, client, email: str, method: str, path: str, body: dict | None = None):
    token = devtokens.mint(project_id=PROJECT_ID, email=email, now=datetime.now(UTC))
    response = client.open(
        path, method=method, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code >= 300:
        raise SystemExit(f"seeding failed: {method} {path} -> {response.status_code}")
    return response.get_json()


def _wait_until_healthy(port: int) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not become ready")


def _spike(url: str, fcm_url: str) -> None:
    """Plan the 09:00 reminders, then deliver them with one dispatcher; print JSON figures."""
    from api.notifications import senders
    from api.notifications.dispatch import Dispatcher
    from api.reminders import planner
    from bench.fake_fcm import FakeFcm

    engine = make_engine(url, pool_size=2)
    started = time.perf_counter()
    with Session(engine) as session:
        planned = planner.run(session=session, now=PLAN_AT)  # the reminders.plan job
        session.commit()
    materialize = time.perf_counter() - started
    account = FakeFcm.service_account_for(fcm_url)
    sender = senders.FcmSender(
        project_id=account["project_id"],
        credentials=account,
        base_url=fcm_url,
        env="test",
        timeout=30.0,
    )
    dispatcher = Dispatcher(
        session_factory=scoped_session(sessionmaker(bind=engine, expire_on_commit=False)),
        sender=sender,
        clock=FrozenClock(DELIVER_AT),
        name="spike",
    )
    started = time.perf_counter()
    report = dispatcher.drain()
    deliver = time.perf_counter() - started
    print(
        json.dumps(
            {
                "planned": planned,
                "materialize": materialize,
                "pushes": report.pushes,
                "deliver": deliver,
            }
        )
    )
    sender.close()
    engine.dispose()


def _report(stats_csv: Path, failures_csv: Path, locust_errors: str) -> None:
    if not stats_csv.exists():
        print(f"locust wrote no figures:\n{locust_errors[-2000:]}")
        return
    with stats_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    heading = ("route", "requests", "req/s", "p50", "p95", "p99", "fail")
    print("\n{:44} {:>9} {:>7} {:>6} {:>6} {:>6} {:>5}".format(*heading))
    for row in rows:
        print(
            f"{(row['Type'] + ' ' + row['Name'])[:44]:44} {int(row['Request Count']):>9,} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} "
            f"{row['99%']:>6} {int(row['Failure Count']):>5}"
        )
    total = next(row for row in rows if row["Name"] == "Aggregated")
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    print(
        f"\ntotal: {float(total['Requests/s']):.1f} req/s, p95 {total['95%']} ms, "
        f"error rate {100 * failures / max(requests, 1):.2f}% ({failures} of {requests:,})"
    )
    if failures and failures_csv.exists():
        print(failures_csv.read_text()[:2000])


def _report_spike(spike: subprocess.CompletedProcess, engine, fcm_url: str) -> None:
    if spike.returncode != 0:
        print(f"\nspike failed:\n{spike.stderr[-2000:]}")
        return
    figures = json.loads(spike.stdout.strip().splitlines()[-1])
    stats = json.load(urllib.request.urlopen(f"{fcm_url}/stats"))
    with Session(engine) as session:
        statuses = dict(
            session.execute(
                select(Notification.status, func.count()).group_by(Notification.status)
            ).all()
        )
    print(
        f"\n09:00 spike during the load: planned {figures['planned']:,} rows in "
        f"{figures['materialize']:.1f} s; delivered {figures['pushes']:,} in "
        f"{figures['deliver']:.1f} s ({figures['pushes'] / max(figures['deliver'], 1e-9):.0f} "
        f"msg/s, one dispatcher); fake FCM saw {stats['distinct']:,} distinct, "
        f"{stats['duplicated']} duplicated; rows by status {statuses}"
    )


if __name__ == "__main__":
    main()
