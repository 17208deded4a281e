"""Who may see which record. Every route and every list reaches its records through here.

Deny by default. A caller with no tie to the record gets 404 (they may not learn it
exists); a caller who knows it but may not do this gets 403. Staff and therapist
access to a graduate's record is audited, allowed or denied.

One record goes through `graduate()`; a list filters with `sees()`; both read a
therapist's tie to a graduate from `therapist_reach()`, the only place the care team
and the graduate's consent are joined.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from api.audit import service as audit
from api.auth import Actor
from api.errors import Forbidden, NotFound
from api.graduates.models import CareTeamMember, Consent, Graduate
from api.groups.models import Group, GroupCoordinator
from api.programs.models import Membership, Program, Role
from api.vocabulary import FlagSource


class Need(enum.Enum):
    PROFILE = "profile"  # who the graduate is, their care team and plan: the care team sees it
    CLINICAL = "clinical"  # check-ins, trends, flags: a therapist needs consent
    SUBSTANCE_USE = "substance_use"  # 42 CFR Part 2: a therapist needs the consent naming it
    CARE = "care"  # clinician-owned parts of the plan: staff and the care team, not the graduate
    MANAGE = "manage"  # enrolment and care-team changes: program staff only
    OWN = "own"  # the graduate's own decisions (consents): the graduate only


PART2_SOURCE = FlagSource.SUBSTANCE_USE  # a flag's source when its evidence is a Part 2 record


def need_for_source(source: str) -> Need:
    """What reading a flag (or anything derived from evidence) of `source` needs."""
    return Need.SUBSTANCE_USE if source == PART2_SOURCE else Need.CLINICAL


class Relation(enum.Enum):
    SELF = "self"
    STAFF = "staff"
    THERAPIST = "therapist"


@dataclass(frozen=True)
class GraduateAccess:
    graduate: Graduate
    relation: Relation
    sees_clinical: bool
    sees_substance_use: bool


GRADUATE_NOT_FOUND = "No graduate with that id."


def graduate(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    need: Need,
    action: str,
    now: datetime,
) -> GraduateAccess:
    """The graduate's record if `actor` may do `action` needing `need` on it."""
    record = session.get(Graduate, graduate_id)
    if record is None:
        raise NotFound(GRADUATE_NOT_FOUND)

    if actor.graduate_id == record.id:
        if need is Need.MANAGE:
            raise Forbidden("Your program's staff make this change.")
        if need is Need.CARE:
            raise Forbidden(
                "Your care team looks after this part of your plan; ask them to change it."
            )
        return GraduateAccess(record, Relation.SELF, True, True)

    if actor.has_role(record.program_id, Role.STAFF):
        if need is Need.OWN:
            raise _denied(record, action, "Only the graduate can make this choice.")
        _audit(session, actor, record, action, now)
        return GraduateAccess(record, Relation.STAFF, True, True)

    tie = (
        session.execute(
            select(THERAPIST_REACH.c.clinical, THERAPIST_REACH.c.substance_use).where(
                THERAPIST_REACH.c.graduate_id == record.id,
                THERAPIST_REACH.c.user_id == actor.user_id,
            )
        ).first()
        if actor.has_role(record.program_id, Role.THERAPIST)
        else None
    )
    if tie is not None:
        clinical, substance_use = bool(tie.clinical), bool(tie.substance_use)
        if need in (Need.MANAGE, Need.OWN):
            raise _denied(record, action, "This is not something a therapist can change.")
        if need is Need.CLINICAL and not clinical:
            raise _denied(record, action, "The graduate has not shared their check-ins with you.")
        if need is Need.SUBSTANCE_USE and not substance_use:
            raise _denied(
                record, action, "The graduate has not consented to share substance-use records."
            )
        _audit(session, actor, record, action, now)
        return GraduateAccess(record, Relation.THERAPIST, clinical, substance_use)

    if actor.has_role(record.program_id, Role.COORDINATOR):
        raise _denied(record, action, "Group coordinators do not see graduates' records.")
    raise NotFound(GRADUATE_NOT_FOUND)


def program(
    *, session: Session, actor: Actor, program_id: uuid.UUID, role: Role | tuple[Role, ...]
) -> Program:
    """The program if `actor` holds `role` (or one of them) in it; 403 for its other members,
    else 404."""
    record = session.get(Program, program_id)
    if record is None or not any(pid == program_id for pid, _ in actor.memberships):
        raise NotFound("No program with that id.")
    roles = role if isinstance(role, tuple) else (role,)
    if not any(actor.has_role(program_id, each) for each in roles):
        names = " or ".join(each.value for each in roles)
        raise Forbidden(f"Only the program's {names} members can do this.")
    return record


@dataclass(frozen=True)
class GroupAccess:
    group: Group
    manages: bool  # staff, and the coordinators assigned to it (every one when none are)
    graduate: Graduate | None  # the caller as a graduate of the group's program, if they are


GROUP_NOT_FOUND = "No group with that id."


def group(*, session: Session, actor: Actor, group_id: uuid.UUID, manage: bool) -> GroupAccess:
    """A group of a program the caller belongs to: coordinators and staff run it, its
    program's graduates browse and join it (403 when they try to run it); 404 otherwise.
    Group routes never reach a graduate's clinical record."""
    record = session.get(Group, group_id)
    if record is None:
        raise NotFound(GROUP_NOT_FOUND)
    manages, me = _group_relation(session, actor, record.program_id)
    if not manages and me is None:
        raise NotFound(GROUP_NOT_FOUND)
    if manages and not actor.has_role(record.program_id, Role.STAFF):
        assigned = session.scalar(select(runs_group(actor)).where(Group.id == record.id))
        if not assigned:
            raise Forbidden("Other coordinators run this group.")
    if manage and not manages:
        raise Forbidden("The program's group coordinators make this change.")
    return GroupAccess(record, manages, me)


def group_program(
    *, session: Session, actor: Actor, program_id: uuid.UUID, manage: bool
) -> Graduate | None:
    """The caller as a graduate of the program, or None for its coordinators and staff."""
    if session.get(Program, program_id) is None:
        raise NotFound("No program with that id.")
    manages, me = _group_relation(session, actor, program_id)
    if not manages and me is None:
        if any(pid == program_id for pid, _ in actor.memberships):
            raise Forbidden("Groups are run by the program's coordinators and staff.")
        raise NotFound("No program with that id.")
    if manage and not manages:
        raise Forbidden("The program's group coordinators make this change.")
    return None if manages else me


def _group_relation(
    session: Session, actor: Actor, program_id: uuid.UUID
) -> tuple[bool, Graduate | None]:
    manages = actor.has_role(program_id, Role.COORDINATOR) or actor.has_role(program_id, Role.STAFF)
    me = session.get(Graduate, actor.graduate_id) if actor.graduate_id else None
    return manages, me if me is not None and me.program_id == program_id else None


def runs_group(actor: Actor) -> ColumnElement[bool]:
    """The list form of a coordinator's tie to a group (over `Group` rows): assigned to it, or
    it has no assigned coordinators at all. Staff run every group of their program."""
    assignments = select(GroupCoordinator.group_id).where(GroupCoordinator.group_id == Group.id)
    mine = assignments.join(Membership, Membership.id == GroupCoordinator.membership_id).where(
        Membership.user_id == actor.user_id
    )
    return or_(
        Group.program_id.in_(actor.programs_with(Role.STAFF)),
        ~assignments.exists(),
        mine.exists(),
    )


def on_care_team(session: Session, *, user_id: uuid.UUID, graduate_id: uuid.UUID) -> bool:
    """Whether the user is on the graduate's care team as a therapist."""
    return (
        session.scalar(
            select(THERAPIST_REACH.c.user_id)
            .where(
                THERAPIST_REACH.c.graduate_id == graduate_id,
                THERAPIST_REACH.c.user_id == user_id,
            )
            .limit(1)
        )
        is not None
    )


def therapist_reach() -> Subquery:
    """One row per therapist on a graduate's care team: (graduate_id, user_id, clinical,
    substance_use). `clinical` is the check-in consent; `substance_use` the Part 2 consent,
    which reaches nothing without the check-in consent (BAM answers are check-ins)."""
    shares = func.coalesce(Consent.share_check_ins, false())
    return (
        select(
            CareTeamMember.graduate_id.label("graduate_id"),
            Membership.user_id.label("user_id"),
            shares.label("clinical"),
            and_(shares, func.coalesce(Consent.share_substance_use, false())).label(
                "substance_use"
            ),
        )
        .join(
            Membership,
            and_(
                Membership.id == CareTeamMember.membership_id,
                Membership.role == Role.THERAPIST,
                Membership.user_id.is_not(None),
            ),
        )
        .outerjoin(
            Consent,
            and_(
                Consent.graduate_id == CareTeamMember.graduate_id,
                Consent.therapist_user_id == Membership.user_id,
            ),
        )
        .distinct()
        .subquery("therapist_reach")
    )


THERAPIST_REACH = therapist_reach()


def therapist_graduates(user_id: uuid.UUID, need: Need) -> Select[uuid.UUID]:
    """Ids of the graduates a therapist reaches for `need` (PROFILE: their care team)."""
    statement = select(THERAPIST_REACH.c.graduate_id).where(THERAPIST_REACH.c.user_id == user_id)
    if need is Need.CLINICAL:
        statement = statement.where(THERAPIST_REACH.c.clinical.is_(True))
    elif need is Need.SUBSTANCE_USE:
        statement = statement.where(THERAPIST_REACH.c.substance_use.is_(True))
    elif need is not Need.PROFILE:
        raise ValueError(f"a therapist's list never needs {need.value}")
    return statement


def sees(
    actor: Actor,
    *,
    graduate_id: SQLColumnExpression[uuid.UUID],
    program_id: SQLColumnExpression[uuid.UUID],
    need: Need,
) -> ColumnElement[bool]:
    """The list form of `graduate()` for the care team, as a WHERE clause over rows keyed by
    graduate and program: staff see their programs' rows, a therapist the rows of the
    graduates they reach for `need`. Lists filter; they never fail for lack of rights."""
    return or_(
        program_id.in_(actor.programs_with(Role.STAFF)),
        graduate_id.in_(therapist_graduates(actor.user_id, need)),
    )


def flag_readers(session: Session, *, graduate: Graduate, substance_use: bool) -> list[uuid.UUID]:
    """The therapists who may read this graduate's flags, as `graduate()` decides for
    Need.CLINICAL (Need.SUBSTANCE_USE when `substance_use`). Staff read every flag of their
    program."""
    reach = THERAPIST_REACH
    consented = reach.c.substance_use if substance_use else reach.c.clinical
    return list(
        session.scalars(
            select(reach.c.user_id)
            .where(reach.c.graduate_id == graduate.id, consented.is_(True))
            .distinct()
        )
    )


def _denied(record: Graduate, action: str, message: str) -> Forbidden:
    return Forbidden(message, graduate_id=record.id, action=action)


def _audit(session: Session, actor: Actor, record: Graduate, action: str, now: datetime) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        graduate_id=record.id,
        program_id=record.program_id,
        outcome="allowed",
        now=now,
    )
