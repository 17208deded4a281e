"""Reminder subjects, and cancelling a task's pending reminders once it is done.

Kept apart from the planner so the check-in, skill and appointment services can call it
without importing the planner. A subject names the task, never its content.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from api.checkins import schedule
from api.db import rowcount
from api.graduates.models import Graduate
from api.notifications.models import Notification
from api.notifications.service import cancel
from api.vocabulary import NotificationKind, NotificationStatus

CHECK_IN_KINDS = (NotificationKind.CHECK_IN_DUE, NotificationKind.CHECK_IN_NUDGE)
APPOINTMENT_KINDS = (NotificationKind.APPOINTMENT_BEFORE, NotificationKind.APPOINTMENT_FOLLOWUP)
# Built once, as every check-in submit asks it: building it costs more than running it.
_PENDING_SUBJECTS = (
    select(Notification.subject)
    .where(
        Notification.graduate_id == bindparam("graduate_id"),
        Notification.status == NotificationStatus.PENDING,
        Notification.kind.in_(bindparam("kinds", expanding=True)),
        Notification.subject.like(bindparam("pattern"), escape="/"),
    )
    .distinct()
)


def skill_subject(day: date, slot: str) -> str:
    return f"skill:{day.isoformat()}T{slot}"


def check_in_subject(questionnaire: str, due_date: date) -> str:
    return f"{questionnaire}:{due_date.isoformat()}"


def appointment_subject(appointment_id: uuid.UUID, occurrence_start: datetime) -> str:
    return f"appt:{appointment_id}:{occurrence_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def group_meeting_subject(group_id: uuid.UUID, original_start: datetime) -> str:
    """Keyed by the meeting's original start: a moved meeting keeps its identity."""
    return f"group:{group_id}:{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def group_meeting_changed(
    *,
    session: Session,
    group_id: uuid.UUID,
    original_start: datetime | None = None,
    graduate_id: uuid.UUID | None = None,
) -> int:
    """A meeting cancelled or moved, an RSVP "no", a member who left: drop the pending
    reminders at once (the planner's next run adds back whatever is still wanted, e.g. the
    moved meeting's at its new time). Deleted, not cancelled: a cancelled row would keep
    the planner from ever planning that meeting again."""
    prefix = (
        f"group:{group_id}:"
        if original_start is None
        else group_meeting_subject(group_id, original_start)
    )
    statement = delete(Notification).where(
        Notification.status == NotificationStatus.PENDING,
        Notification.kind == NotificationKind.GROUP_MEETING,
        Notification.subject.startswith(prefix, autoescape=True),
    )
    if graduate_id is not None:
        statement = statement.where(Notification.graduate_id == graduate_id)
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return rowcount(result)


def check_in_submitted(
    *, session: Session, graduate: Graduate, questionnaire: str, now: datetime
) -> int:
    """Cancel the pending reminders of every `questionnaire` due date this answer satisfied."""

    def still_due() -> set[str]:
        return {
            check_in_subject(entry["questionnaire"], entry["due_date"])
            for entry in schedule.due(session=session, graduate=graduate, now=now)
        }

    return _cancel_prefix(session, graduate.id, CHECK_IN_KINDS, f"{questionnaire}:", keep=still_due)


def skill_practised(*, session: Session, graduate: Graduate, practiced_at: datetime) -> int:
    """Practice logged on a local day: that day's pending skill reminders are done."""
    day = practiced_at.astimezone(zoneinfo.ZoneInfo(graduate.timezone)).date()
    return _cancel_prefix(session, graduate.id, (NotificationKind.SKILL_PRACTICE,), f"skill:{day}T")


def appointment_reported(
    *,
    session: Session,
    graduate_id: uuid.UUID,
    appointment_id: uuid.UUID,
    occurrence_start: datetime,
) -> int:
    """Attended, missed or rescheduled: no more "coming up" or "did you go?" for it."""
    prefix = appointment_subject(appointment_id, occurrence_start)
    return _cancel_prefix(session, graduate_id, APPOINTMENT_KINDS, prefix)


def _cancel_prefix(
    session: Session,
    graduate_id: uuid.UUID,
    kinds: tuple[str, ...],
    prefix: str,
    keep: Callable[[], set[str]] | None = None,
) -> int:
    """Cancel pending rows whose subject starts with `prefix` (a snoozed repeat included),
    but those whose task is still to do (`keep`, asked only when there is something)."""
    found = session.connection().execute(
        _PENDING_SUBJECTS,
        {"graduate_id": graduate_id, "kinds": list(kinds), "pattern": _starting_with(prefix)},
    )
    subjects = found.scalars().all()
    if not subjects:
        return 0
    kept = keep() if keep is not None else set()
    return sum(
        cancel(session, graduate_id=graduate_id, kind=kinds, subject=subject)
        for subject in subjects
        if subject.split("+", 1)[0] not in kept
    )


def _starting_with(prefix: str) -> str:
    """A LIKE pattern (escape character /) for text that starts with `prefix` as written:
    its own % and _ are not wildcards."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
