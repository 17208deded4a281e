"""Every scheduled job by id: the service function it calls and when it runs (UTC)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy.orm import Session

from api.checkins import service as checkins
from api.flags import time_rules
from api.graduates import enrollment
from api.notifications import dispatch, partitions
from api.privacy import service as privacy
from api.reminders import planner
from api.summaries import service as summaries

log = logging.getLogger("jobs")


@dataclass(frozen=True)
class Job:
    run: Callable[..., int]  # (*, session, now) -> how many records it touched
    trigger: Any


JOBS: dict[str, Job] = {
    "enrollment-codes.purge-expired": Job(
        enrollment.purge_expired, CronTrigger(hour=3, minute=17, timezone="UTC")
    ),
    "idempotency-keys.purge": Job(checkins.purge_idempotency_keys, IntervalTrigger(hours=1)),
    # Once a day, mid-morning across the US: missed forms, inactivity, missed appointments.
    "flags.time-rules": Job(time_rules.run_daily, CronTrigger(hour=15, minute=5, timezone="UTC")),
    # Escalation never waits for office hours.
    "flags.escalate": Job(time_rules.escalate, IntervalTrigger(minutes=5)),
    # Each therapist's own weekday, time and zone: every 15 minutes, build the weeks now due.
    "summaries.weekly": Job(summaries.run_weekly, IntervalTrigger(minutes=15)),
    # Materializes the next hours' reminders of the graduates due a visit (something they
    # rely on changed, or their window gains a slot); a second run inserts nothing.
    "reminders.plan": Job(planner.run, IntervalTrigger(minutes=5)),
    # The outbox's monthly partitions, this month and the next three (PostgreSQL): a day
    # missed, or a few weeks, still leaves room for every row planned.
    "notifications.partitions": Job(
        partitions.ensure, CronTrigger(hour=3, minute=47, timezone="UTC")
    ),
    # Rows a week past due are never sent (nor claimed): ended, so retention may drop them.
    "notifications.expire-late": Job(
        dispatch.expire_late, CronTrigger(hour=4, minute=27, timezone="UTC")
    ),
    # The safety net: every graduate planned afresh, in the small hours across the US.
    "reminders.reconcile": Job(planner.reconcile, CronTrigger(hour=9, minute=47, timezone="UTC")),
    # Accounts whose deletion grace period has ended; then the programs' retention periods.
    "privacy.erase-due": Job(privacy.erase_due, CronTrigger(hour=4, minute=7, timezone="UTC")),
    "privacy.retention": Job(
        privacy.apply_retention, CronTrigger(hour=4, minute=37, timezone="UTC")
    ),
}


def run_job(app: Flask, job_id: str, now: datetime | None = None) -> int:
    """One job in its own transaction; logs the count, never content."""
    runtime = app.extensions["companion"]
    session: Session = runtime.db.session()
    try:
        count = JOBS[job_id].run(session=session, now=now or runtime.clock.now())
        session.commit()
    except Exception:
        session.rollback()
        log.exception("job failed", extra={"job": job_id})
        raise
    finally:
        runtime.db.session.remove()
    log.info("job done", extra={"job": job_id, "count": count})
    return count


def run_all_once(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """Every job, then one dispatch pass (dispatchers are their own processes otherwise)."""
    counts = {job_id: run_job(app, job_id, now) for job_id in JOBS}
    counts["notifications.dispatch"] = dispatch.run_pass(app=app, now=now)
    return counts


def build_scheduler(app: Flask) -> BlockingScheduler:
    """One BlockingScheduler in UTC; coalesced, never overlapping, tolerant of short pauses."""
    scheduler = BlockingScheduler(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for job_id, job in JOBS.items():
        scheduler.add_job(run_job, job.trigger, args=(app, job_id), id=job_id, name=job_id)
    return scheduler
