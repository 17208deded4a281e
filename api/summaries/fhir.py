"""A graduate's check-ins as a FHIR R4 Bundle (type collection) for the therapist's EHR.

Patient (minimal: an id and nothing that names the person), one QuestionnaireResponse per
check-in, Observations for PHQ-9 (panel 44249-1, total 44261-6, item 9 44260-8) and GAD-7
(panel 69737-5, total 70274-6) with their codes from the content files, and a Flag per open
flag. BAM (42 CFR Part 2) resources only for a caller who may see them, each labelled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.audit import service as audit
from api.auth import Actor
from api.checkins.models import CheckIn
from api.content.loader import ContentLibrary
from api.flags.models import Flag
from api.vocabulary import FlagSource, FlagStatus

LOINC = "http://loinc.org"
ITEM9 = "phq9-9"
SURVEY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# 42 CFR Part 2: substance-abuse information sensitivity, the law, and no redisclosure.
PART2_LABELS = [
    {"system": ACT_CODE, "code": "ETH", "display": "substance abuse information sensitivity"},
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {
        "system": ACT_CODE,
        "code": "NORDSCLCD",
        "display": "no redisclosure without consent directive",
    },
]
QUESTIONNAIRE_BASE = "urn:companion:questionnaire:"
FLAG_STATUS = "http://terminology.hl7.org/CodeSystem/flag-category"


def export(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    library: ContentLibrary,
    now: datetime,
) -> dict[str, Any]:
    """The bundle; therapists need consent (and the Part 2 consent for BAM). Every export is
    audited, the graduate's own included."""
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.CLINICAL,
        action="fhir.export",
        now=now,
    )
    if found.relation is access.Relation.SELF:
        # A copy of the record leaving the system is worth a line even when it is their own.
        audit.record(
            session=session,
            actor=actor,
            action="fhir.export",
            graduate_id=graduate_id,
            program_id=found.graduate.program_id,
            outcome="allowed",
            now=now,
        )
    patient_ref = {"reference": f"urn:uuid:{graduate_id}"}
    entries = [_entry(graduate_id, {"resourceType": "Patient", "id": str(graduate_id)})]
    statement = select(CheckIn).where(CheckIn.graduate_id == graduate_id)
    if not found.sees_substance_use:
        statement = statement.where(CheckIn.part2.is_(False))
    part2_included = False
    for check_in in session.scalars(statement.order_by(CheckIn.answered_at, CheckIn.id)):
        part2_included |= check_in.part2
        entries.append(_entry(check_in.id, _response(check_in, patient_ref, library)))
        entries.extend(_observations(check_in, patient_ref, library))
    flags = select(Flag).where(
        Flag.graduate_id == graduate_id, Flag.status.in_((FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED))
    )
    if not found.sees_substance_use:
        flags = flags.where(Flag.source != FlagSource.SUBSTANCE_USE)
    if found.relation is not access.Relation.SELF:  # graduates never see flags
        for flag in session.scalars(flags.order_by(Flag.raised_at, Flag.id)):
            part2_included |= flag.source == FlagSource.SUBSTANCE_USE
            entries.append(_entry(flag.id, _flag(flag, patient_ref)))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": now.isoformat(),
        "entry": entries,
    }
    if part2_included:
        bundle["meta"] = {"security": PART2_LABELS}
    return bundle


def _entry(resource_id: uuid.UUID, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource_id}", "resource": resource}


def _labelled(resource: dict[str, Any], part2: bool) -> dict[str, Any]:
    if part2:
        resource["meta"] = {"security": PART2_LABELS}
    return resource


def _response(
    check_in: CheckIn, patient: dict[str, str], library: ContentLibrary
) -> dict[str, Any]:
    form = library.questionnaire(check_in.questionnaire)
    items = []
    for link_id, value in check_in.answers.items():
        item = form.item(link_id) if form else None
        answer: dict[str, Any] = {"valueInteger": value}
        option = next((o for o in item.answers if o.value == value), None) if item else None
        if option is not None and option.code:
            answer = {
                "valueCoding": {"system": LOINC, "code": option.code, "display": option.label}
            }
        entry: dict[str, Any] = {"linkId": link_id, "answer": [answer]}
        if item is not None:
            entry["text"] = item.text
            if item.loinc:
                entry["definition"] = f"{LOINC}/{item.loinc}"
        items.append(entry)
    return _labelled(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(check_in.id),
            "questionnaire": (
                f"{QUESTIONNAIRE_BASE}{check_in.questionnaire}|{check_in.form_version}"
            ),
            "status": "completed",
            "subject": patient,
            "authored": check_in.answered_at.isoformat(),
            "item": items,
        },
        check_in.part2,
    )


def _observations(
    check_in: CheckIn, patient: dict[str, str], library: ContentLibrary
) -> list[dict[str, Any]]:
    """PHQ-9: total and item 9 as members of the panel; GAD-7: total in the panel."""
    form = library.questionnaire(check_in.questionnaire)
    if check_in.questionnaire not in ("phq9", "gad7") or form is None or check_in.score is None:
        return []
    base = {
        "resourceType": "Observation",
        "status": "final",
        "category": [SURVEY],
        "subject": patient,
        "effectiveDateTime": check_in.answered_at.isoformat(),
        "derivedFrom": [{"reference": f"urn:uuid:{check_in.id}"}],
    }
    total_id = uuid.uuid5(check_in.id, "total")
    members = [
        (
            total_id,
            {
                **base,
                "id": str(total_id),
                "code": _code(form.loinc_total, f"{form.title} total score"),
                "valueInteger": check_in.score,
                "interpretation": [{"text": check_in.band}] if check_in.band else [],
            },
        )
    ]
    item9 = form.item(ITEM9)
    if item9 is not None and item9.loinc and ITEM9 in check_in.answers:
        item_id = uuid.uuid5(check_in.id, ITEM9)
        members.append(
            (
                item_id,
                {
                    **base,
                    "id": str(item_id),
                    "code": _code(item9.loinc, item9.text),
                    "valueInteger": check_in.answers[ITEM9],
                },
            )
        )
    panel_id = uuid.uuid5(check_in.id, "panel")
    panel = {
        **base,
        "id": str(panel_id),
        "code": _code(form.loinc_panel, form.name or form.title),
        "hasMember": [{"reference": f"urn:uuid:{member_id}"} for member_id, _ in members],
    }
    for _, resource in members:
        if not resource.get("interpretation"):
            resource.pop("interpretation", None)
    return [_entry(panel_id, panel)] + [_entry(i, resource) for i, resource in members]


def _code(code: str | None, text: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code}] if code else [], "text": text}


def _flag(flag: Flag, patient: dict[str, str]) -> dict[str, Any]:
    return _labelled(
        {
            "resourceType": "Flag",
            "id": str(flag.id),
            "status": "active",
            "category": [{"coding": [{"system": FLAG_STATUS, "code": "clinical"}]}],
            "code": {"text": f"{flag.kind.replace('_', ' ')}: {flag.explanation}"},
            "subject": patient,
            "period": {"start": flag.raised_at.isoformat()},
        },
        flag.source == FlagSource.SUBSTANCE_USE,
    )
