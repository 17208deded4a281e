"""Check-in submit throughput on PostgreSQL under gunicorn, against two floors in the same run.

    .venv/bin/python -m bench.checkin_throughput [--seconds 60] [--prior 1] [--rounds 3]
                                                 [--clients N] [--expected-rate R]
                                                 [--redis URL] [--profile 500]

Three gunicorn servers (sync workers, 2 x cores + 1) on loopback, apps in
bench/throughput_apps.py:
  (a) raw    Flask + psycopg: parse the JSON body, INSERT one row (the floor)
  (b) stack  flask-smorest + marshmallow + SQLAlchemy ORM: one INSERT
  full       the companion API: sign-in, validation, idempotency, scoring, insert, flag
             evaluation, audit, one transaction
Client threads (keep-alive http.client) POST the same valid PHQ-9 with answered_at = now
and a fresh Idempotency-Key to each target in turn; rounds are interleaved and rotated so
machine noise hits all three alike. SQL statements per submit are counted in-process (no
gunicorn) for a graduate with 1 prior check-in and one with 1,000.

The full target runs as in production: the per-person write budget (WRITE_LIMIT) is on, its
counters in Redis (--redis). Each client cycles through its own share of a pool of graduates
sized so that, at --expected-rate (an upper bound: full cannot outrun floor (a)), nobody
spends more than half of any limit of the budget. Any reply but a 2xx, or a connection
error, makes the run INVALID: it says so loudly and judges no ratio.

Prints requests/s, p50/p95/p99 and their ratios to (a), statements per submit and the
issue's goals marked PASS/MISS next to the floor's figure. Informational only: it always
exits 0 (timing never fails a test). A throwaway database on
postgresql://postgres@127.0.0.1:5432 is created and dropped, and the run's rate-limit
counters are deleted from Redis.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import itertools
import json
import math
import os
import pstats
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from limits import RateLimitItem, parse_many
from sqlalchemy import event, func, insert, select, text

from api import create_app, devtokens, migrate
from api.checkins.models import CheckIn
from api.config import load_settings
from api.db import make_engine
from api.graduates.models import Graduate
from api.programs.models import Program
from api.users.models import User
from bench.request_overhead import _throwaway_postgres
from bench.throughput_apps import FLOOR_TABLE_DDL

PROJECT_DIR = Path(__file__).resolve().parent.parent
TARGETS = {"raw": "raw_floor()", "stack": "stack_floor()", "full": "full()"}
LABELS = {"raw": "(a) raw", "stack": "(b) stack", "full": "full"}
WORKERS = 2 * (os.cpu_count() or 1) + 1
# Items 1-8 "several days", item 9 "not at all": 8, mild, no flag against a baseline of 8.
PHQ9 = {f"phq9-{n}": 1 for n in range(1, 9)} | {"phq9-9": 0}
NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
WARM_UP_SECONDS = 1.5
EXPECTED_STACK_RATIO = 0.53  # (b) / (a) measured on this machine kind, per the issue
REDIS_URL = "redis://127.0.0.1:6379"  # production keeps the limiter's counters in Redis
# Floor (a) reached 447 req/s on 2 cores: full, which cannot outrun it, stays below this.
DEFAULT_EXPECTED_RATE = 300.0 * (os.cpu_count() or 1)
HEADROOM = 0.5  # the most of any one limit of the budget a pooled graduate may spend


@dataclass
class Person:
    graduate_id: uuid.UUID
    email: str


Client = tuple[Person, str]  # a graduate and their bearer token


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # non-2xx statuses, exceptions

    def add_errors(self, errors: dict[str, int], label: str = "") -> None:
        for key, count in errors.items():
            self.errors[label + key] = self.errors.get(label + key, 0) + count

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- database ---------------------------------------------------------------------------


def seed(url: str, *, graduates: int, prior: int, now: datetime) -> list[Person]:
    """One program, `graduates` people with `prior` PHQ-9s each, plus two more for the
    statement count (1 and 1,000 prior). Returns the load people first, then those two."""
    priors = [prior] * graduates + [1, 1000]
    emails = [f"bench-{n}@bench.example" for n in range(len(priors))]
    user_ids = [uuid.uuid4() for _ in priors]
    people = [Person(uuid.uuid4(), email) for email in emails]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            program_id = uuid.uuid4()
            connection.execute(
                insert(Program), {"id": program_id, "name": "Bench", "created_at": now}
            )
            connection.execute(
                insert(User),
                [
                    {"id": i, "firebase_uid": devtokens.uid_for(e), "email": e, "created_at": now}
                    for i, e in zip(user_ids, emails, strict=True)
                ],
            )
            connection.execute(
                insert(Graduate),
                [
                    {
                        "id": person.graduate_id,
                        "program_id": program_id,
                        "user_id": user_id,
                        "display_name": f"Bench {n}",
                        "graduation_date": (now - timedelta(days=60)).date(),
                        "timezone": "America/Chicago",
                        "substance_use": False,
                        "baseline_phq9": 8,
                        "baseline_gad7": 6,
                        "created_at": now - timedelta(days=60),
                        "last_active_at": now,  # steady state: the hourly activity write is done
                    }
                    for n, (person, user_id) in enumerate(zip(people, user_ids, strict=True))
                ],
            )
            rows = [
                row
                for person, count in zip(people, priors, strict=True)
                for row in _prior_check_ins(person.graduate_id, count, now)
            ]
            if rows:
                connection.execute(insert(CheckIn), rows)
            connection.execute(text(FLOOR_TABLE_DDL))
    finally:
        engine.dispose()
    return people


def pool_size(budget: list[RateLimitItem], *, rate: float, seconds: float) -> int:
    """Graduates to spread `rate` submits a second for `seconds` over, so that none spends
    more than HEADROOM of any limit of the budget (each limit is N per window: the most
    a window can hold is the rate times the shorter of the window and the run)."""
    needed = 1
    for limit in budget:
        in_window = rate * min(seconds, limit.get_expiry())
        needed = max(needed, math.ceil(in_window / (limit.amount * HEADROOM)))
    return needed


def tokens_for(people: list[Person], project: str) -> list[Client]:
    now = datetime.now(UTC)
    return [
        (
            person,
            devtokens.mint(
                project_id=project, email=person.email, now=now, lifetime=timedelta(hours=2)
            ),
        )
        for person in people
    ]


def _prior_check_ins(graduate_id: uuid.UUID, count: int, now: datetime) -> list[dict]:
    """`count` earlier PHQ-9s, the newest a day ago, then one every ~80 minutes back."""
    rows = []
    for n in range(count):
        answered = now - timedelta(days=1) - timedelta(minutes=80 * n)
        rows.append(
            {
                "id": uuid.uuid4(),
                "graduate_id": graduate_id,
                "questionnaire": "phq9",
                "form_version": "2026.1",
                "answered_at": answered,
                "submitted_at": answered,
                "answers": PHQ9,
                "score": 8,
                "band": "mild",
                "subscales": None,
                "safety_positive": False,
                "part2": False,
            }
        )
    return rows


# --- servers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(stack: ExitStack, target: str, url: str, prefix: str, redis_url: str) -> int:
    """A gunicorn server for `target` on a free loopback port, stopped when `stack` closes."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "sync",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--no-control-socket",  # three servers at once would share its one path
            f"bench.throughput_apps:{TARGETS[target]}",
        ],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "BENCH_DATABASE_URL": url,
            "BENCH_RATELIMIT_PREFIX": prefix,
            "BENCH_REDIS_URL": redis_url,
        },
    )

    def stop() -> None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)

    stack.callback(stop)
    return port


def wait_until_ready(target: str, port: int, person: Person, token: str) -> None:
    """Until one submit returns 201; bounded, and fails early if the server died or refused."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            status, _ = _post(connection, person, token)
            connection.close()
            if status == 201:
                return
            raise RuntimeError(f"{target}: first submit answered {status}")
        except (ConnectionError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{target}: not ready within 60 s")


# --- load -------------------------------------------------------------------------------


def _post(connection: http.client.HTTPConnection, person: Person, token: str) -> tuple[int, float]:
    body = json.dumps(
        {"questionnaire": "phq9", "answers": PHQ9, "answered_at": datetime.now(UTC).isoformat()}
    )
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": uuid.uuid4().hex,
    }
    started = time.perf_counter()
    connection.request("POST", f"/api/v1/graduates/{person.graduate_id}/check-ins", body, headers)
    response = connection.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def run_load(port: int, shares: list[list[Client]], seconds: float, into: Samples) -> None:
    """One thread per share submits back to back until the deadline, cycling through the
    share's graduates (keep-alive when the server allows it; gunicorn's sync workers close
    after each response, for every target). Only 2xx replies are timed; anything else is
    an error, and an error makes the run invalid."""
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def client(share: list[Client]) -> None:
        latencies: list[float] = []
        errors: dict[str, int] = {}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for person, token in itertools.cycle(share):
            if time.perf_counter() >= deadline:
                break
            try:
                status, elapsed = _post(connection, person, token)
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                connection.close()
                continue
            if 200 <= status < 300:
                latencies.append(elapsed)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
        connection.close()
        with lock:
            into.latencies_ms.extend(latencies)
            into.add_errors(errors)

    threads = [threading.Thread(target=client, args=(share,), daemon=True) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    into.seconds += time.perf_counter() - started


def limiter_keys(redis_url: str, prefix: str, *, delete: bool = False) -> int:
    """The rate-limit counters this run left in Redis (proof the limiter kept them there,
    not in a worker's memory); deleted when `delete`."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"LIMITS:LIMITER/{prefix}/*", count=1000))
        if delete and keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def redis_problem(redis_url: str) -> str | None:
    """None if Redis answers, else why not (the limiter would fall back to each worker's
    memory, which is not how production counts)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def history_range(url: str, people: list[Person]) -> tuple[int, int]:
    """Fewest and most check-ins a load graduate has after the run (each submit adds one)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            counts = connection.execute(
                select(func.count())
                .select_from(CheckIn)
                .where(CheckIn.graduate_id.in_([p.graduate_id for p in people]))
                .group_by(CheckIn.graduate_id)
            ).scalars()
            found = list(counts)
    finally:
        engine.dispose()
    return min(found), max(found)


# --- in-process: statements and profile ---------------------------------------------------


def _in_process_app(url: str, redis_url: str, prefix: str):
    """The full app in this process, its limiter in Redis as under gunicorn."""
    return create_app(
        {
            "COMPANION_ENV": "test",
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": redis_url,
            "RATELIMIT_PREFIX": prefix,
        }
    )


def _submitter(app, people: list[Person], project: str) -> Callable[[], int]:
    """Submits one check-in per call, cycling through `people` (the write budget is on)."""
    turns = itertools.cycle(tokens_for(people, project))
    client = app.test_client()

    def submit() -> int:
        person, token = next(turns)
        response = client.post(
            f"/api/v1/graduates/{person.graduate_id}/check-ins",
            json={
                "questionnaire": "phq9",
                "answers": PHQ9,
                "answered_at": datetime.now(UTC).isoformat(),
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.json
        return response.status_code

    return submit


def statements_per_submit(
    url: str, people: list[Person], project: str, redis_url: str, prefix: str
) -> list[list[str]]:
    """The statements one submit sends, per person (BEGIN/COMMIT/SAVEPOINT... not counted)."""
    app = _in_process_app(url, redis_url, prefix)
    sent: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if not statement.lstrip().upper().startswith(NOT_COUNTED):
            sent.append(" ".join(statement.split()))

    engine = app.extensions["companion"].db.engine
    try:
        with engine.connect():  # first connect: dialect set-up queries, not counted
            pass
        found = []
        for person in people:
            submit = _submitter(app, [person], project)
            event.listen(engine, "before_cursor_execute", count)
            try:
                submit()
            finally:
                event.remove(engine, "before_cursor_execute", count)
            found.append(list(sent))
            sent.clear()
        return found
    finally:
        app.extensions["companion"].db.dispose()


WARM_UP_SUBMITS = 20


def profile_submits(
    url: str, people: list[Person], project: str, submits: int, redis_url: str, prefix: str
) -> str:
    app = _in_process_app(url, redis_url, prefix)
    try:
        submit = _submitter(app, people, project)
        for _ in range(WARM_UP_SUBMITS):  # warm caches, compile statements
            submit()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(submits):
            submit()
        profiler.disable()
        elapsed = time.perf_counter() - started
    finally:
        app.extensions["companion"].db.dispose()
    out = io.StringIO()
    out.write(f"in-process: {submits} submits, {elapsed / submits * 1000:.2f} ms each\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


# --- report -----------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _short(statement: str) -> str:
    return statement if len(statement) <= 110 else statement[:107] + "..."


def _invalid(samples: dict[str, Samples], limiter_counters: int) -> list[str]:
    """Why this run cannot be judged (empty when it can)."""
    reasons = []
    for name, data in samples.items():
        failed = sum(data.errors.values())
        if failed:
            reasons.append(f"{failed} non-2xx replies or errors from {LABELS[name]}: {data.errors}")
    if not limiter_counters:
        reasons.append("no rate-limit counters in Redis: the limiter did not count there")
    return reasons


def report(
    samples: dict[str, Samples],
    statements: list[list[str]],
    *,
    prior: int,
    clients: int,
    rounds: int,
    slot: float,
    history: tuple[int, int],
    budget: str,
    pool: int,
    expected_rate: float,
    redis_url: str,
    limiter_counters: int,
) -> None:
    raw, stack, full = samples["raw"], samples["stack"], samples["full"]
    invalid = _invalid(samples, limiter_counters)
    failed = sum(sum(data.errors.values()) for data in samples.values())
    print(
        f"PostgreSQL, gunicorn sync x {WORKERS} workers ({os.cpu_count()} cores) per target; "
        f"{clients} client threads; {rounds} rounds x {slot:.1f} s per target, rotated; "
        f"{prior} prior check-in(s) per graduate"
    )
    print(
        f"write budget per person: {budget} (limiter on, counters in Redis at {redis_url}: "
        f"{limiter_counters} keys this run)"
    )
    print(
        f"pool: {pool} graduates, {pool // clients}+ per client thread, sized for "
        f"{expected_rate:.0f} req/s at most {HEADROOM:.0%} of any limit each"
    )
    print(
        f"check-ins per load graduate grew from {prior} to {history[0]}-{history[1]} "
        "during the run (every submit adds one)"
    )
    if invalid:
        print(f"RUN INVALID: {failed} non-2xx replies")
        for reason in invalid:
            print(f"  {reason}")
    ratio_head = "" if invalid else f" {'x (a)':>6}"
    print(
        f"{'target':<10} {'req/s':>8}{ratio_head} {'p50 ms':>8}{ratio_head} "
        f"{'p95 ms':>8}{ratio_head} {'p99 ms':>8}{ratio_head}"
    )
    for name, data in samples.items():
        cells = [f"{data.rate:8.1f}"]
        floors = [raw.rate]
        for fraction in (0.50, 0.95, 0.99):
            cells.append(f"{data.percentile(fraction):8.2f}")
            floors.append(raw.percentile(fraction))
        if not invalid:
            values = [data.rate] + [data.percentile(f) for f in (0.50, 0.95, 0.99)]
            cells = [
                f"{cell} {value / floor:6.2f}"
                for cell, value, floor in zip(cells, values, floors, strict=True)
            ]
        print(f"{LABELS[name]:<10} " + " ".join(cells))

    few, many = (len(found) for found in statements)
    flat = few == many and many <= 6
    print(f"statements per submit:  {few} with 1 prior check-in, {many} with 1,000 ((a): 1)")
    if invalid:
        print(f"goals: not judged, RUN INVALID ({failed} non-2xx replies); statements, counted")
        print(f"  in-process apart from the load: {few}/{many} {_verdict(flat)}")
    else:
        ratio = full.rate / raw.rate
        p99_ratio = full.percentile(0.99) / raw.percentile(0.99)
        stack_ratio = stack.rate / raw.rate
        print(f"ratio (b) / (a): {stack_ratio:.2f}  (issue: about {EXPECTED_STACK_RATIO})")
        print("goals (informational), each beside its floor (a) from this run:")
        print(
            f"  throughput  full {full.rate:7.1f} req/s  (a) {raw.rate:7.1f} req/s  "
            f"{ratio:5.2f} x  goal >= 0.40  {_verdict(ratio >= 0.40)}"
        )
        print(
            f"  p99         full {full.percentile(0.99):7.1f} ms     (a) "
            f"{raw.percentile(0.99):7.1f} ms     {p99_ratio:5.2f} x  goal <= 3     "
            f"{_verdict(p99_ratio <= 3)}"
        )
        print(
            f"  statements  full {few} at 1 prior, {many} at 1,000   (a) 1             "
            f"goal <= 6, same at both  {_verdict(flat)}"
        )
    print("statements at 1,000 prior:")
    for n, statement in enumerate(statements[1], 1):
        print(f"  {n}. {_short(statement)}")
    if invalid:
        print(f"RUN INVALID: {failed} non-2xx replies; no ratio is judged")


# --- main -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=60, help="measured seconds in all (default 60)"
    )
    parser.add_argument("--prior", type=int, default=1, help="prior check-ins per graduate")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2 * WORKERS, help="client threads")
    parser.add_argument(
        "--expected-rate",
        type=float,
        default=DEFAULT_EXPECTED_RATE,
        help=f"most submits/s full may reach, sizes the pool (default {DEFAULT_EXPECTED_RATE:.0f})",
    )
    parser.add_argument("--redis", default=REDIS_URL, help=f"limiter storage (default {REDIS_URL})")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also cProfile N in-process submits"
    )
    args = parser.parse_args()
    problem = redis_problem(args.redis)
    if problem:
        print(f"RUN INVALID: Redis at {args.redis} does not answer ({problem}); production")
        print("counts the write budget there, so the run would not measure what it serves.")
        return
    slot = args.seconds / (args.rounds * len(TARGETS))
    settings = load_settings({"COMPANION_ENV": "test"})
    project, budget = settings.firebase_project_id, parse_many(settings.write_limit)
    # The full target is loaded for a third of the run, its warm-up and a readiness check.
    full_seconds = args.rounds * slot + WARM_UP_SECONDS + 1
    pool = max(args.clients, pool_size(budget, rate=args.expected_rate, seconds=full_seconds))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"

    with ExitStack() as stack:
        stack.callback(limiter_keys, args.redis, prefix, delete=True)
        url = _throwaway_postgres(stack)
        migrate.upgrade(url)
        people = seed(url, graduates=pool, prior=args.prior, now=datetime.now(UTC))
        load_people, counted = people[:pool], people[pool:]
        clients = tokens_for(load_people, project)
        shares = [clients[n :: args.clients] for n in range(args.clients)]

        # Statements first, while the two counted graduates have exactly 1 and 1,000 priors.
        statements = statements_per_submit(url, counted, project, args.redis, prefix)

        ports = {target: start_server(stack, target, url, prefix, args.redis) for target in TARGETS}
        samples = {target: Samples() for target in TARGETS}
        for target, port in ports.items():
            wait_until_ready(target, port, *clients[0])
            warm_up = Samples()
            run_load(port, shares, WARM_UP_SECONDS, warm_up)  # timings not counted, errors are
            samples[target].add_errors(warm_up.errors, label="warm-up ")

        order = list(TARGETS)
        for round_number in range(args.rounds):
            shift = round_number % len(order)
            for target in order[shift:] + order[:shift]:
                run_load(ports[target], shares, slot, samples[target])

        history = history_range(url, load_people)
        counters = limiter_keys(args.redis, prefix)
        stack.close()  # servers down before the report; the database is dropped
        profile = None
        if args.profile:
            with ExitStack() as inner:
                url = _throwaway_postgres(inner)
                migrate.upgrade(url)
                submits = args.profile + WARM_UP_SUBMITS
                # As if every submit fell in one window: nobody nears a limit, however fast.
                size = pool_size(budget, rate=submits, seconds=1)
                profiled = seed(url, graduates=size, prior=args.prior, now=datetime.now(UTC))
                inner.callback(limiter_keys, args.redis, prefix, delete=True)
                profile = profile_submits(
                    url, profiled[:size], project, args.profile, args.redis, prefix
                )

    report(
        samples,
        statements,
        prior=args.prior,
        clients=args.clients,
        rounds=args.rounds,
        slot=slot,
        history=history,
        budget=settings.write_limit,
        pool=pool,
        expected_rate=args.expected_rate,
        redis_url=args.redis,
        limiter_counters=counters,
    )
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
