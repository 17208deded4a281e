"""python -m jobs (or `companion jobs scheduler`): the one scheduler process."""

from __future__ import annotations

import logging

from flask import Flask

from api import create_app_or_exit
from jobs.scheduler import build_scheduler


def main(app: Flask | None = None) -> None:
    app = app or create_app_or_exit()
    scheduler = build_scheduler(app)
    logging.getLogger("jobs").info("scheduler starting", extra={"count": len(scheduler.get_jobs())})
    scheduler.start()


if __name__ == "__main__":
    main()
