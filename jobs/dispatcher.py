"""python -m jobs.dispatcher (or `companion jobs dispatcher`): one dispatcher process; run as
many as the load needs.

Each claims due notifications in batches (FOR UPDATE SKIP LOCKED on PostgreSQL), sends
them through the configured sender (FCM in production, the console in development) and
records the outcome. SIGTERM or Ctrl-C finishes the batch in hand, then exits. On SQLite,
run one. `python -m jobs` (the scheduler) plans; it never sends.
"""

from __future__ import annotations

import argparse
import signal
import threading

from flask import Flask

from api import create_app_or_exit
from api.notifications.dispatch import BATCH_SIZE, for_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Deliver due notifications.")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--idle-seconds", type=float, default=2.0, help="wait when none is due")
    parser.add_argument("--once", action="store_true", help="drain what is due now, then exit")
    args = parser.parse_args(argv)
    run(
        create_app_or_exit(),
        batch_size=args.batch_size,
        idle_seconds=args.idle_seconds,
        once=args.once,
    )


def run(app: Flask, *, batch_size: int, idle_seconds: float, once: bool) -> None:
    """Drain what is due (once) or deliver until SIGTERM/Ctrl-C."""
    dispatcher = for_app(app, batch_size=batch_size)
    if once:
        dispatcher.drain()
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    dispatcher.run_forever(stop, idle_seconds=idle_seconds)


if __name__ == "__main__":
    main()
