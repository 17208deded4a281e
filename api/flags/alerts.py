"""Telling the care team at once: an alert for every urgent and step-up flag, and for a
graduate's own request to talk to someone.

`flag_raised` runs in the transaction that raises the flag (`service.raise_signal`, the
one place flags are born). It queues, for each person who must act on the flag, an inbox
entry that is also pushed to each of their devices, and an email when they have a
verified email channel, all in the outbox's priority lane (the dispatchers claim alerts
before any reminder). Who:

- the program's on-call staff (the flag rules' `on_call_emails`; empty: all staff),
  always, Part 2 flags included;
- the therapists who may read the flag (`access.flag_readers`: on the care team, with the
  consent; a flag from substance-use evidence only under the Part 2 consent).

Never a coordinator, an unlinked therapist or one without consent. The words are the
kind's generic text (`api.notifications.texts`): no name, score, answer or anything
Part 2; the link is the flag's opaque id.

When: an urgent flag now, at any hour (nobody's quiet hours hold it); a step-up review or
a contact request now during the program's working hours, otherwise at their next opening
(the graduate was told "they will reach out": someone must hear of it without having to
look). Watch and disengaged flags are not alerted (the flag list and the weekly summaries
carry them).

The flag records whether anyone can be reached (`alert_status`): "queued" when at least
one recipient has a device or a verified email, "no_one_reached" otherwise, and the
safety reply tells the graduate their care team was told only in the first case.
Escalation (time_rules.escalate) runs either way.

`flag_taken`: whoever acknowledges (or resolves) the flag first takes it: pending alerts
for it are cancelled, and every alert sent for it shows who took it in the inbox.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.db import rowcount
from api.flags import configuration
from api.flags import rules as flag_rules
from api.flags.models import Flag, FlagEvent
from api.graduates.models import Graduate
from api.notifications import channels
from api.notifications.models import ALERT_KINDS, Device, Notification
from api.notifications.service import Planned, enqueue
from api.programs import hours
from api.programs.models import Membership, Program, Role
from api.vocabulary import FlagKind, FlagSource, NotificationKind, NotificationStatus

log = logging.getLogger("api.flags")
ALERTED = (FlagKind.URGENT, FlagKind.STEP_UP, FlagKind.CONTACT_REQUEST)
QUEUED, NO_ONE_REACHED = "queued", "no_one_reached"


def flag_raised(*, session: Session, flag: Flag, now: datetime) -> None:
    """Queue the alerts for a new flag, in its own transaction, and record the reach."""
    if flag.kind not in ALERTED:
        return
    program = session.get_one(Program, flag.program_id)
    people = recipients(session, flag=flag, program=program)
    due = now
    if flag.kind != FlagKind.URGENT:
        due = hours.next_opening(hours.working_hours(program), hours.zone(session, program), now)
    subject = f"flag:{flag.id}"
    emails = channels.verified(session, people)
    items = [
        Planned(
            user_id,
            kind,
            subject,
            due,
            graduate_id=flag.graduate_id,
            collapse_key=subject,
            link=str(flag.id),
        )
        for user_id in people
        for kind in (
            (NotificationKind.ALERT, NotificationKind.ALERT_EMAIL)
            if user_id in emails
            else (NotificationKind.ALERT,)
        )
    ]
    enqueue(session, items=items, now=now)
    reached = emails | _with_device(session, people)
    flag.alert_status = QUEUED if reached else NO_ONE_REACHED
    session.add(
        FlagEvent(
            flag_id=flag.id,
            at=now,
            actor_user_id=None,
            action="alerted",
            details={
                "user_ids": [str(user_id) for user_id in people],
                "reached": len(reached),
                "due_at": due.isoformat(),
            },
        )
    )
    # Ids and counts only.
    log.log(
        logging.INFO if reached else logging.WARNING,
        "flag %s alerted %d people, %d of them reachable",
        flag.id,
        len(people),
        len(reached),
    )


def told(flags: list[Flag]) -> bool:
    """Whether the safety reply may say the care team was told: an urgent flag of this
    answer queued an alert someone can receive."""
    return any(flag.kind == FlagKind.URGENT and flag.alert_status == QUEUED for flag in flags)


def recipients(session: Session, *, flag: Flag, program: Program) -> list[uuid.UUID]:
    """On-call staff, then the therapists who may read this flag; each once."""
    graduate = session.get_one(Graduate, flag.graduate_id)
    therapists = access.flag_readers(
        session, graduate=graduate, substance_use=flag.source == FlagSource.SUBSTANCE_USE
    )
    staff = on_call_staff(session, program.id, configuration.rules_for(program))
    return list(dict.fromkeys([*staff, *therapists]))


def on_call_staff(
    session: Session, program_id: uuid.UUID, rules: flag_rules.Rules
) -> list[uuid.UUID]:
    """The program's on-call staff who have signed in (all staff unless the rules name some)."""
    statement = select(Membership.user_id).where(
        Membership.program_id == program_id,
        Membership.role == Role.STAFF,
        Membership.user_id.is_not(None),
    )
    if rules.on_call_emails:
        wanted = [email.strip().lower() for email in rules.on_call_emails]
        statement = statement.where(Membership.email.in_(wanted))
    return list(dict.fromkeys(session.scalars(statement.order_by(Membership.email))))


def flag_taken(*, session: Session, flag: Flag, actor: Actor) -> int:
    """The first acknowledgement (or a resolution) takes the flag: its alerts not yet sent
    are cancelled, and every alert of it shows who took it. How many rows changed."""
    statement = (
        update(Notification)
        .where(
            Notification.graduate_id == flag.graduate_id,
            Notification.kind.in_(ALERT_KINDS),
            Notification.subject == f"flag:{flag.id}",
            Notification.taken_by_user_id.is_(None),
        )
        .values(
            taken_by_user_id=actor.user_id,
            status=case(
                (Notification.status == NotificationStatus.PENDING, NotificationStatus.CANCELLED),
                else_=Notification.status,
            ),
        )
    )
    return rowcount(session.execute(statement, execution_options={"synchronize_session": False}))


def _with_device(session: Session, people: list[uuid.UUID]) -> set[uuid.UUID]:
    if not people:
        return set()
    return set(session.scalars(select(Device.user_id).where(Device.user_id.in_(people))))
