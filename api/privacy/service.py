"""A graduate's own data: a copy of everything we hold, deletion after a grace period, and
the program's retention settings with the jobs that apply them.

What deletion does, and why (README, "The graduate's own data"):
- erased at once when the grace period ends: name, email and login (the Firebase uid can
  no longer reach the record: signing in again makes a new, unenrolled person), devices,
  the inbox and reminders, preferences, consents, group seats and RSVPs, calendar feeds,
  enrollment codes, the plan (it names people, places and medications), skill practice,
  weekly summaries;
- kept, de-identified, as the treating program's clinical record: check-ins, flags with
  the clinicians' decisions, group attendance. State medical-record laws make the program
  keep these for years; `clinical_retention_years` after erasure they are purged too;
- kept: audit events, which hold ids and actions, never content.

The export's `record_access` is the graduate's accounting of who used their record: the
audit log in a few plain words, by day in their zone, with every clinician "your care team"
and every read "viewed your record", so it never says which part was read (a look at the
flag list and a look at the plan read the same: graduates never learn that flags exist).
"""

from __future__ import annotations

import enum
import logging
import uuid
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, or_, select, update
from sqlalchemy.orm import Session

from api import access
from api.audit import service as audit
from api.audit.models import AuditEvent
from api.auth import Actor
from api.content.loader import ContentLibrary
from api.db import Base, rowcount
from api.errors import Conflict, Forbidden
from api.graduates.models import Graduate
from api.groups.models import GroupCalendarFeed
from api.notifications import partitions
from api.notifications.models import Device, Notification
from api.programs.models import Program, Role
from api.summaries import fhir
from api.users.models import User

log = logging.getLogger("api.privacy")

BATCH = 200
GRACE_DAYS = (7, 90)
INBOX_DAYS = (30, 730)
CLINICAL_YEARS = (6, 25)
# Every table with a graduate_id column is either exported or listed here with a reason
# (tests/test_privacy.py fails on a table that is neither).
NOT_EXPORTED = {
    "flags": "Flags are your care team's working notes; ask your program for them.",
    "flag_events": "Part of your care team's notes on flags.",
    "summaries": "Weekly summaries are written for your therapist; ask your program.",
    "idempotent_requests": "A 24-hour copy of replies to repeated requests; nothing new.",
    "enrollment_codes": "Sign-up codes are security secrets, kept only as hashes.",
    "audit_events": "The program's audit log; who used your record, and when, is in record_access.",
    "reminder_planning": "When our planner next looks at your reminders (in notifications).",
}
SECRET_COLUMNS = frozenset({"token_hash", "code_hash", "answers_hash", "request_hash"})
# Erased when the grace period ends (by graduate_id), in an order the foreign keys allow.
ERASED = (
    "group_rsvps",
    "group_members",
    "group_calendar_feeds",
    "calendar_feeds",
    "consents",
    "reminder_preferences",
    "enrollment_codes",
    "idempotent_requests",
    "skill_practice",
    "plan_changes",
    "plan_skills",
    "medications",
    "appointment_reports",
    "appointments",
    "plans",
    "summaries",
)
# The accounting of who used the record (record_access): who, and what in plain words. An
# action not named here reads "viewed your record", so a new audited action can never say
# more than that.
YOU = "you"
CARE_TEAM = "your care team"
VIEWED = "viewed your record"
COPIED = "downloaded a copy of your data"
ACCESS_WORDS = {
    "graduate.create": "registered you with the program",
    "enrollment_code.issue": "made a sign-up code for your record",
    "care_team.add": "changed your care team",
    "care_team.remove": "changed your care team",
    "graduate.export": COPIED,
    "graduate.deletion_requested": "asked to delete your account",
    "graduate.deletion_cancelled": "cancelled deleting your account",
}
# Purged `clinical_retention_years` after erasure.
CLINICAL = ("flag_events", "flags", "check_ins", "group_attendance")


# --- the copy ------------------------------------------------------------------------


def export(
    *, session: Session, actor: Actor, library: ContentLibrary, now: datetime
) -> dict[str, Any]:
    """Everything we hold about the signed-in graduate, as JSON, with the FHIR bundle."""
    graduate = _own_record(session, actor)
    _audit(session, actor, graduate, "graduate.export", now)
    records: dict[str, list[dict[str, Any]]] = {}
    for table in exported_tables():
        rows = session.execute(_rows_of(table, graduate.id, actor.user_id)).mappings()
        records[table.name] = [_plain(row) for row in rows]
    devices = session.scalars(select(Device).where(Device.user_id == actor.user_id))
    records["devices"] = [
        {
            "id": str(device.id),
            "platform": device.platform,
            "token_ends_with": device.token[-6:],
            "created_at": device.created_at.isoformat(),
            "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
        }
        for device in devices
    ]
    user = session.get_one(User, actor.user_id)
    return {
        "generated_at": now,
        "person": {"email": user.email, "signed_up_at": user.created_at.isoformat()},
        "records": records,
        "record_access": record_access(session=session, graduate=graduate, user_id=actor.user_id),
        "not_included": [{"table": name, "why": why} for name, why in NOT_EXPORTED.items()],
        "fhir": fhir.export(
            session=session, actor=actor, graduate_id=graduate.id, library=library, now=now
        ),
    }


def record_access(
    *, session: Session, graduate: Graduate, user_id: uuid.UUID
) -> list[dict[str, str]]:
    """Who used the record and when, newest day first; one line per day, who and what.

    Only what was allowed (a refusal showed nothing; the program's audit log keeps it). Reads
    of substance-use records are listed like any other read: the graduate is owed the whole
    accounting, and the audit log behind it names each reader for the program to give."""
    zone = zoneinfo.ZoneInfo(graduate.timezone)
    rows = session.execute(
        select(
            AuditEvent.occurred_at,
            AuditEvent.actor_user_id,
            AuditEvent.actor_role,
            AuditEvent.action,
        ).where(
            AuditEvent.graduate_id == graduate.id,
            AuditEvent.outcome == "allowed",
            AuditEvent.actor_role != "system",
        )
    )
    lines = set()
    for occurred_at, actor_user_id, role, action in rows:
        mine = actor_user_id == user_id or role == "graduate"
        lines.add(
            (occurred_at.astimezone(zone).date(), YOU if mine else CARE_TEAM, _words(action, mine))
        )
    return [
        {"date": day.isoformat(), "who": who, "what": what}
        for day, who, what in sorted(lines, key=lambda line: (-line[0].toordinal(), *line[1:]))
    ]


def _words(action: str, mine: bool) -> str:
    if action == "fhir.export":
        return COPIED if mine else "made a copy of your record"
    if action.startswith("plan.") and action.endswith(".update"):
        return "changed your care plan"
    return ACCESS_WORDS.get(action, VIEWED)


def exported_tables() -> list[Table]:
    """Tables with the graduate's rows, by graduate_id (appointment reports by appointment;
    notifications and group calendar feeds by the person, see `_rows_of`)."""
    found = [
        table
        for table in Base.metadata.sorted_tables
        if ("graduate_id" in table.c or table.name == "graduates")
        and table.name not in NOT_EXPORTED
    ]
    return [*found, Base.metadata.tables["appointment_reports"]]


def _rows_of(table: Table, graduate_id: uuid.UUID, user_id: uuid.UUID) -> Any:
    if table.name == "notifications":
        # What was sent to them (group announcements carry no graduate_id), never what the
        # care team was sent about them.
        return select(table).where(table.c.user_id == user_id)
    if table.name == "group_calendar_feeds":
        # A feed of one group has no graduate_id: it is the person's.
        return select(table).where(
            or_(table.c.graduate_id == graduate_id, table.c.user_id == user_id)
        )
    if table.name == "graduates":
        return select(table).where(table.c.id == graduate_id)
    if table.name == "appointment_reports":
        appointments = Base.metadata.tables["appointments"]
        return select(table).where(
            table.c.appointment_id.in_(
                select(appointments.c.id).where(appointments.c.graduate_id == graduate_id)
            )
        )
    return select(table).where(table.c.graduate_id == graduate_id)


def _plain(row: Any) -> dict[str, Any]:
    return {key: _json(value) for key, value in row.items() if key not in SECRET_COLUMNS}


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


# --- deletion ------------------------------------------------------------------------


def deletion_status(*, session: Session, actor: Actor) -> dict[str, Any]:
    graduate = _own_record(session, actor)
    return _status(graduate)


def request_deletion(*, session: Session, actor: Actor, now: datetime) -> dict[str, Any]:
    """Schedules erasure after the program's grace period; asking again changes nothing.

    The account keeps working during the grace period: someone who asked in a bad moment
    keeps their safety plan, crisis lines and care team, and can cancel."""
    graduate = _own_record(session, actor)
    if graduate.erase_after is None:
        program = session.get_one(Program, graduate.program_id)
        graduate.deletion_requested_at = now
        graduate.erase_after = now + timedelta(days=program.deletion_grace_days)
        _audit(session, actor, graduate, "graduate.deletion_requested", now)
    return _status(graduate)


def cancel_deletion(*, session: Session, actor: Actor, now: datetime) -> None:
    graduate = _own_record(session, actor)
    if graduate.erase_after is not None:
        graduate.deletion_requested_at = graduate.erase_after = None
        _audit(session, actor, graduate, "graduate.deletion_cancelled", now)


def _audit(session: Session, actor: Actor, graduate: Graduate, action: str, now: datetime) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        graduate_id=graduate.id,
        program_id=graduate.program_id,
        outcome="allowed",
        now=now,
    )


def _status(graduate: Graduate) -> dict[str, Any]:
    return {
        "status": "scheduled" if graduate.erase_after is not None else "none",
        "requested_at": graduate.deletion_requested_at,
        "erase_after": graduate.erase_after,
    }


def _own_record(session: Session, actor: Actor) -> Graduate:
    if actor.graduate_id is None:
        raise Forbidden("Only a graduate has their own data to export or delete here.")
    graduate = session.get(Graduate, actor.graduate_id)
    if graduate is None or graduate.erased_at is not None:
        raise Conflict("This account has been erased.")
    return graduate


def erase_due(*, session: Session, now: datetime) -> int:
    """The `privacy.erase-due` job: erase every graduate whose grace period has ended,
    a batch per transaction; an interrupted run is finished by the next."""
    erased = 0
    while True:
        batch = list(
            session.scalars(
                select(Graduate)
                .where(Graduate.erase_after <= now, Graduate.erased_at.is_(None))
                .order_by(Graduate.erase_after)
                .limit(BATCH)
            )
        )
        if not batch:
            return erased
        for graduate in batch:
            _erase(session, graduate, now)
        session.commit()
        erased += len(batch)


def _erase(session: Session, graduate: Graduate, now: datetime) -> None:
    tables = Base.metadata.tables
    appointments = tables["appointments"]
    for name in ERASED:
        table = tables[name]
        if name == "appointment_reports":
            owned = select(appointments.c.id).where(appointments.c.graduate_id == graduate.id)
            session.execute(delete(table).where(table.c.appointment_id.in_(owned)))
        else:
            session.execute(delete(table).where(table.c.graduate_id == graduate.id))
    session.execute(delete(Notification).where(Notification.graduate_id == graduate.id))
    if graduate.user_id is not None:
        session.execute(delete(Notification).where(Notification.user_id == graduate.user_id))
        session.execute(delete(Device).where(Device.user_id == graduate.user_id))
        # Feeds of one group are the person's, not the record's (graduate_id is null).
        session.execute(
            delete(GroupCalendarFeed).where(GroupCalendarFeed.user_id == graduate.user_id)
        )
        session.execute(
            update(User)
            .where(User.id == graduate.user_id)
            .values(
                email=f"erased-{graduate.user_id}@erased.invalid",
                firebase_uid=f"erased:{graduate.user_id}",
                tokens_valid_after=now,
            )
        )
    graduate.display_name = "Erased"
    graduate.user_id = None
    graduate.erased_at = now
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_user_id=None,
            actor_role="system",
            action="graduate.erased",
            program_id=graduate.program_id,
            graduate_id=graduate.id,
            outcome="allowed",
        )
    )


# --- retention -----------------------------------------------------------------------


def pending_deletions(*, session: Session, actor: Actor, program_id: uuid.UUID) -> Select[Graduate]:
    """Deletion requests in their grace period, soonest erasure first (the program's staff:
    they may need to say goodbye, never to stop it; only the graduate can cancel)."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    return (
        select(Graduate)
        .where(
            Graduate.program_id == program_id,
            Graduate.erase_after.is_not(None),
            Graduate.erased_at.is_(None),
        )
        .order_by(Graduate.erase_after, Graduate.id)
    )


def retention(*, session: Session, actor: Actor, program_id: uuid.UUID) -> Program:
    return access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)


def change_retention(
    *, session: Session, actor: Actor, program_id: uuid.UUID, settings: dict[str, int]
) -> Program:
    program = retention(session=session, actor=actor, program_id=program_id)
    for key, value in settings.items():
        setattr(program, key, value)
    return program


def apply_retention(*, session: Session, now: datetime) -> int:
    """The `privacy.retention` job: delivered notifications past the program's inbox
    period, and erased graduates' clinical records past the program's retention years.

    Notifications go by whole UTC months, once the month is wholly past the period: on
    PostgreSQL the month is a partition, dropped whole once past every program's period
    (everyone's rows, staff's too, unless one is still in flight); a program whose period
    is shorter has its graduates' rows deleted from the months still kept for the others.
    SQLite deletes the same rows one by one."""
    programs = list(session.scalars(select(Program)))
    longest = max((program.inbox_retention_days for program in programs), default=INBOX_DAYS[1])
    everyone = _whole_months_before(now - timedelta(days=longest))
    dropped = partitions.drop_before(session=session, before=everyone)
    if dropped:
        log.info("outbox partitions dropped", extra={"partitions": dropped})
    removed = _delete_delivered(session, Notification.due_at < everyone)
    for program in programs:
        old = _whole_months_before(now - timedelta(days=program.inbox_retention_days))
        if old > everyone:
            graduates = select(Graduate.id).where(Graduate.program_id == program.id)
            removed += _delete_delivered(
                session,
                Notification.graduate_id.in_(graduates),
                Notification.due_at >= everyone,  # the rest went above: only the months kept
                Notification.due_at < old,
            )
        expired = select(Graduate.id).where(
            Graduate.program_id == program.id,
            Graduate.erased_at < now - timedelta(days=365 * program.clinical_retention_years),
        )
        for name in CLINICAL:
            table = Base.metadata.tables[name]
            if name == "flag_events":
                flags = Base.metadata.tables["flags"]
                owned = select(flags.c.id).where(flags.c.graduate_id.in_(expired))
                statement = delete(table).where(table.c.flag_id.in_(owned))
            else:
                statement = delete(table).where(table.c.graduate_id.in_(expired))
            removed += rowcount(
                session.execute(statement, execution_options={"synchronize_session": False})
            )
        session.commit()
    return removed


def _whole_months_before(moment: datetime) -> datetime:
    """Retention's unit is a UTC month, the outbox's partition on PostgreSQL."""
    return partitions.Month.of(moment).start


def _delete_delivered(session: Session, *where: ColumnElement[bool]) -> int:
    """Rows of the outbox no dispatcher holds or waits to send."""
    statement = delete(Notification).where(*where, Notification.status.not_in(partitions.IN_FLIGHT))
    return rowcount(session.execute(statement, execution_options={"synchronize_session": False}))
