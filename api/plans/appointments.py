"""Appointments in the plan (the care team's) and the graduate's reports on each occurrence."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Invalid
from api.graduates.models import Graduate
from api.plans import recurrence
from api.plans.models import Appointment, AppointmentReport
from api.plans.versioning import care_team_edit, get_item, record_change
from api.reminders import completion as reminders

MAX_WINDOW = timedelta(days=400)
FIELDS = ("kind", "clinician_name", "location", "video_url", "duration_minutes", "rrule")


def add(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
    starts_at_local: datetime,
    **fields: Any,
) -> Appointment:
    graduate, plan = care_team_edit(
        session, actor, graduate_id, "plan.appointments.add", expected_version, now
    )
    item = Appointment(graduate_id=graduate_id, created_at=now, timezone=graduate.timezone)
    _apply(item, starts_at_local, fields)
    session.add(item)
    session.flush()
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="appointments",
        action="added",
        item_id=item.id,
        after=_snapshot(item),
        now=now,
    )
    return item


def replace(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    appointment_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
    starts_at_local: datetime,
    **fields: Any,
) -> Appointment:
    graduate, plan = care_team_edit(
        session, actor, graduate_id, "plan.appointments.update", expected_version, now
    )
    item = get_item(session, Appointment, appointment_id, graduate_id)
    before = _snapshot(item)
    item.timezone = graduate.timezone
    _apply(item, starts_at_local, fields)
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="appointments",
        action="updated",
        item_id=item.id,
        before=before,
        after=_snapshot(item),
        now=now,
    )
    return item


def remove(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    appointment_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> None:
    _, plan = care_team_edit(
        session, actor, graduate_id, "plan.appointments.remove", expected_version, now
    )
    item = get_item(session, Appointment, appointment_id, graduate_id)
    before = _snapshot(item)
    for report in session.scalars(
        select(AppointmentReport).where(AppointmentReport.appointment_id == item.id)
    ):
        session.delete(report)
    session.delete(item)
    record_change(
        session=session,
        plan=plan,
        actor=actor,
        section="appointments",
        action="removed",
        item_id=appointment_id,
        before=before,
        now=now,
    )


def occurrences(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """Every occurrence in [start, end) with the graduate's report on it, if any."""
    if not start < end <= start + MAX_WINDOW:
        raise Invalid("Bad window.", errors={"to": ["after from, and at most 400 days later"]})
    graduate = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="plan.appointments.read",
        now=now,
    ).graduate
    return occurrences_for(session=session, graduate=graduate, start=start, end=end)


def occurrences_for(
    *, session: Session, graduate: Graduate, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    items = list(session.scalars(select(Appointment).where(Appointment.graduate_id == graduate.id)))
    reports = (
        {
            (report.appointment_id, report.occurrence_start): report.status
            for report in session.scalars(
                select(AppointmentReport).where(
                    AppointmentReport.appointment_id.in_([item.id for item in items]),
                    AppointmentReport.occurrence_start >= start,
                    AppointmentReport.occurrence_start < end,
                )
            )
        }
        if items
        else {}
    )
    found = [
        {
            "appointment_id": item.id,
            "kind": item.kind,
            "clinician_name": item.clinician_name,
            "starts_at": instant,
            "ends_at": instant + timedelta(minutes=item.duration_minutes),
            "report": reports.get((item.id, instant)),
        }
        for item in items
        for instant in recurrence.occurrences(
            starts_at=item.starts_at,
            timezone=item.timezone,
            rrule=item.rrule,
            start=start,
            end=end,
        )
    ]
    return sorted(found, key=lambda occurrence: occurrence["starts_at"])


def report(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    appointment_id: uuid.UUID,
    occurrence_start: datetime,
    status: str,
    now: datetime,
) -> AppointmentReport:
    """Attended and missed only once it has started; rescheduled any time."""
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="appointments.report",
        now=now,
    )
    item = get_item(session, Appointment, appointment_id, graduate_id)
    is_occurrence = any(
        recurrence.occurrences(
            starts_at=item.starts_at,
            timezone=item.timezone,
            rrule=item.rrule,
            start=occurrence_start,
            end=occurrence_start + timedelta(seconds=1),
        )
    )
    if not is_occurrence:
        raise Invalid(
            "No such occurrence.",
            errors={"occurrence_start": ["not a start time of this appointment"]},
        )
    if status != "rescheduled" and occurrence_start > now:
        raise Invalid(
            "That appointment has not happened yet.",
            errors={"status": ["attended or missed can be reported once it has started"]},
        )
    entry = session.scalar(
        select(AppointmentReport).where(
            AppointmentReport.appointment_id == appointment_id,
            AppointmentReport.occurrence_start == occurrence_start,
        )
    )
    if entry is None:
        entry = AppointmentReport(appointment_id=appointment_id, occurrence_start=occurrence_start)
        session.add(entry)
    entry.status = status
    entry.reported_at = now
    session.flush()
    reminders.appointment_reported(
        session=session,
        graduate_id=graduate_id,
        appointment_id=appointment_id,
        occurrence_start=occurrence_start,
    )
    return entry


def _apply(item: Appointment, starts_at_local: datetime, fields: dict[str, Any]) -> None:
    item.starts_at = recurrence.to_instant(starts_at_local, item.timezone)
    if fields.get("rrule"):
        recurrence.check_rrule(fields["rrule"], starts_at_local)
    for key in FIELDS:
        setattr(item, key, fields.get(key))


def _snapshot(item: Appointment) -> dict[str, Any]:
    return {key: getattr(item, key) for key in (*FIELDS, "starts_at", "timezone")}
