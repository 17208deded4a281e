"""Reading the library through a program's overrides, and making those overrides.

A caller sees the library as their programs have shaped it: library items minus the ones
their program hid, plus the program's own skills. A graduate's program applies to a
graduate; a member of several programs sees what any of them shows; a caller in no
program sees the plain library.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.content.loader import (
    Card,
    ContentError,
    ContentLibrary,
    Questionnaire,
    Skill,
    parse_skill,
)
from api.content.models import ContentKind, ProgramContent
from api.errors import Conflict, Invalid, NotFound
from api.graduates.models import Graduate
from api.programs.models import Role

SKILL_NOT_FOUND = "No skill with that id."
CARD_NOT_FOUND = "No psychoeducation card with that id."


# --- reading -----------------------------------------------------------------------------


def skills(
    *,
    session: Session,
    library: ContentLibrary,
    actor: Actor,
    category: str | None = None,
    phase: str | None = None,
) -> list[Skill]:
    found = _visible_skills(session, library, _program_ids(session, actor))
    return [
        skill
        for skill in found
        if (category is None or skill.category == category)
        and (phase is None or phase in skill.phases)
    ]


def skill(*, session: Session, library: ContentLibrary, actor: Actor, skill_id: str) -> Skill:
    found = _visible_skills(session, library, _program_ids(session, actor))
    match = next((s for s in found if s.id == skill_id), None)
    if match is None:
        raise NotFound(SKILL_NOT_FOUND)
    return match


def cards(
    *, session: Session, library: ContentLibrary, actor: Actor, phase: str | None = None
) -> list[Card]:
    found = _visible_cards(session, library, _program_ids(session, actor))
    return [card for card in found if phase is None or card.phase == phase]


def card(*, session: Session, library: ContentLibrary, actor: Actor, card_id: str) -> Card:
    found = _visible_cards(session, library, _program_ids(session, actor))
    match = next((c for c in found if c.id == card_id), None)
    if match is None:
        raise NotFound(CARD_NOT_FOUND)
    return match


def questionnaire(*, library: ContentLibrary, questionnaire_id: str) -> Questionnaire:
    """A form a graduate answers on its own; PHQ-2 and GAD-2 are asked inside `daily` only."""
    found = library.questionnaire(questionnaire_id)
    if found is None or not found.standalone:
        raise NotFound("No questionnaire with that id.")
    return found


class ProgramCatalogue:
    """The skills one program shows, for other domains (the plan) that name skills by id."""

    def __init__(self, library: ContentLibrary) -> None:
        self.library = library

    def skill(self, *, session: Session, program_id: uuid.UUID, skill_id: str) -> Skill | None:
        found = _visible_skills(session, self.library, [program_id])
        return next((s for s in found if s.id == skill_id), None)

    def skill_titles(self, *, session: Session, program_id: uuid.UUID) -> dict[str, str]:
        """Every skill the program shows, id to title, in one query."""
        return {s.id: s.title for s in _visible_skills(session, self.library, [program_id])}

    def skill_title(self, *, session: Session, program_id: uuid.UUID, skill_id: str) -> str | None:
        found = self.skill(session=session, program_id=program_id, skill_id=skill_id)
        return found.title if found else None

    def card_for_phase(self, *, session: Session, program_id: uuid.UUID, phase: str) -> Card | None:
        """The phase's introduction card unless the program hid it, else its next card."""
        visible = [
            c for c in _visible_cards(session, self.library, [program_id]) if c.phase == phase
        ]
        preferred = self.library.card_for_phase(phase)
        if preferred is not None and preferred in visible:
            return preferred
        return visible[0] if visible else None


def _program_ids(session: Session, actor: Actor) -> list[uuid.UUID]:
    ids = {program_id for program_id, _role in actor.memberships}
    if actor.graduate_id is not None:
        program_id = session.scalar(
            select(Graduate.program_id).where(Graduate.id == actor.graduate_id)
        )
        if program_id is not None:
            ids.add(program_id)
    return sorted(ids)


def _overrides(session: Session, program_ids: list[uuid.UUID]) -> list[ProgramContent]:
    if not program_ids:
        return []
    return list(
        session.scalars(
            select(ProgramContent)
            .where(ProgramContent.program_id.in_(program_ids))
            .order_by(ProgramContent.program_id, ProgramContent.content_id)
        )
    )


def _visible_skills(
    session: Session, library: ContentLibrary, program_ids: list[uuid.UUID]
) -> list[Skill]:
    if not program_ids:
        return list(library.skills())
    rows = _overrides(session, program_ids)
    visible: dict[str, Skill] = {}
    for program_id in program_ids:
        mine = [r for r in rows if r.program_id == program_id and r.kind == ContentKind.SKILL]
        hidden = {r.content_id for r in mine if r.hidden}
        for item in library.skills():
            if item.id not in hidden:
                visible.setdefault(item.id, item)
        for row in mine:
            if row.custom is not None and not row.hidden:
                visible.setdefault(row.content_id, _custom_skill(row.custom))
    return sorted(visible.values(), key=lambda s: s.id)


def _visible_cards(
    session: Session, library: ContentLibrary, program_ids: list[uuid.UUID]
) -> list[Card]:
    if not program_ids:
        return list(library.cards())
    rows = _overrides(session, program_ids)
    visible: dict[str, Card] = {}
    for program_id in program_ids:
        hidden = {
            r.content_id
            for r in rows
            if r.program_id == program_id and r.kind == ContentKind.CARD and r.hidden
        }
        for item in library.cards():
            if item.id not in hidden:
                visible.setdefault(item.id, item)
    return sorted(visible.values(), key=lambda c: c.id)


def _custom_skill(data: dict[str, Any]) -> Skill:
    return Skill(
        id=data["id"],
        version=data["version"],
        title=data["title"],
        category=data["category"],
        minutes=data["minutes"],
        phases=tuple(data["phases"]),
        tags=tuple(data["tags"]),
        summary=data["summary"],
        body=data["body"],
        source="program",
    )


# --- a program's overrides ---------------------------------------------------------------


def overrides(*, session: Session, actor: Actor, program_id: uuid.UUID) -> Select[ProgramContent]:
    """What the program changed: hidden library items and its own skills (staff)."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    return (
        select(ProgramContent)
        .where(ProgramContent.program_id == program_id)
        .order_by(ProgramContent.kind, ProgramContent.content_id)
    )


def set_hidden(
    *,
    session: Session,
    library: ContentLibrary,
    actor: Actor,
    program_id: uuid.UUID,
    kind: str,
    content_id: str,
    hidden: bool,
    now: datetime,
) -> ProgramContent:
    """Hide or show a library item (or the program's own skill) for the program's callers."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    try:
        content_kind = ContentKind(kind)
    except ValueError:
        raise NotFound("Content kinds are skill and card.") from None
    row = _row(session, program_id, content_kind, content_id)
    in_library = (
        library.skill(content_id) if content_kind is ContentKind.SKILL else library.card(content_id)
    ) is not None
    if not in_library and (row is None or row.custom is None):
        raise NotFound(SKILL_NOT_FOUND if content_kind is ContentKind.SKILL else CARD_NOT_FOUND)
    if row is None:
        row = ProgramContent(
            program_id=program_id,
            kind=content_kind,
            content_id=content_id,
            hidden=hidden,
            custom=None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    elif row.hidden != hidden:
        row.hidden = hidden
        row.updated_at = now
    session.flush()
    return row


def add_skill(
    *,
    session: Session,
    library: ContentLibrary,
    actor: Actor,
    program_id: uuid.UUID,
    fields: dict[str, Any],
    now: datetime,
) -> Skill:
    """The program's own skill, checked by the same rules as a skill file."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    meta = {key: value for key, value in fields.items() if key != "body"}
    try:
        new = parse_skill(meta, fields.get("body"), source="program skill", origin="program")
    except ContentError as exc:
        raise Invalid("The skill is not valid.", errors=exc.by_field()) from None
    if library.skill(new.id) is not None:
        raise Conflict(f"{new.id} is a library skill; choose another id.")
    row = _row(session, program_id, ContentKind.SKILL, new.id)
    if row is not None and row.custom is not None:
        raise Conflict(f"This program already has a skill {new.id}.")
    custom = {
        "id": new.id,
        "version": new.version,
        "title": new.title,
        "category": new.category,
        "minutes": new.minutes,
        "phases": list(new.phases),
        "tags": list(new.tags),
        "summary": new.summary,
        "body": new.body,
    }
    if row is None:
        row = ProgramContent(
            program_id=program_id,
            kind=ContentKind.SKILL,
            content_id=new.id,
            created_at=now,
        )
        session.add(row)
    row.hidden = False
    row.custom = custom
    row.updated_at = now
    session.flush()
    return new


def _row(
    session: Session, program_id: uuid.UUID, kind: ContentKind, content_id: str
) -> ProgramContent | None:
    return session.scalar(
        select(ProgramContent).where(
            ProgramContent.program_id == program_id,
            ProgramContent.kind == kind,
            ProgramContent.content_id == content_id,
        )
    )
