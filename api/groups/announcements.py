"""News a group's coordinators post to its seated members.

Apart because its text stays in the app: a push only carries generic words.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.graduates.models import Graduate
from api.groups.membership import seated_member
from api.groups.models import MEMBER, Group, GroupAnnouncement, GroupMember
from api.notifications.service import Planned, enqueue


def announce(
    *, session: Session, actor: Actor, group_id: uuid.UUID, title: str, body: str, now: datetime
) -> GroupAnnouncement:
    """Stored with its full text for the app; a push carries generic words only."""
    access.group(session=session, actor=actor, group_id=group_id, manage=True)
    item = GroupAnnouncement(
        group_id=group_id, title=title, body=body, author_user_id=actor.user_id, created_at=now
    )
    session.add(item)
    session.flush()
    enqueue(
        session,
        items=[
            Planned(
                user_id, "group_announcement", f"announcement:{item.id}", now, link=str(item.id)
            )
            for user_id in announcement_recipients(session, announcement_id=item.id)
        ],
        now=now,
    )
    return item


def announcements(
    *, session: Session, actor: Actor, group_id: uuid.UUID
) -> Select[GroupAnnouncement]:
    allowed = access.group(session=session, actor=actor, group_id=group_id, manage=False)
    if not allowed.manages:
        seated_member(session, allowed)
    return (
        select(GroupAnnouncement)
        .where(GroupAnnouncement.group_id == group_id)
        .order_by(GroupAnnouncement.created_at.desc(), GroupAnnouncement.id)
    )


def announcement_recipients(session: Session, *, announcement_id: uuid.UUID) -> list[uuid.UUID]:
    """User ids to push an announcement to: the group's seated members who have signed in.
    The push's words come from its kind; the title and text are read in the app."""
    return list(
        session.scalars(
            select(Graduate.user_id)
            .join(GroupMember, GroupMember.graduate_id == Graduate.id)
            .join(GroupAnnouncement, GroupAnnouncement.group_id == GroupMember.group_id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(
                GroupAnnouncement.id == announcement_id,
                GroupMember.status == MEMBER,
                Group.archived_at.is_(None),
                Graduate.user_id.is_not(None),
            )
            .order_by(GroupMember.id)
        )
    )
