"""python -m jobs: the one scheduler process."""

from __future__ import annotations

import logging

from api import create_app
from jobs.scheduler import build_scheduler


def main() -> None:
    app = create_app()
    scheduler = build_scheduler(app)
    logging.getLogger("jobs").info("scheduler starting", extra={"count": len(scheduler.get_jobs())})
    scheduler.start()


if __name__ == "__main__":
    main()
