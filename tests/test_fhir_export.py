"""The FHIR R4 export validates as an R4B Bundle (R4B shares R4's definitions of these
resources), uses the published LOINC codes, and carries Part 2 records only under consent."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from api.audit.models import AuditEvent
from tests.test_flags import Story, bam, gad7, phq9
from tests.test_summaries import at

LOINC = "http://loinc.org"


@pytest.fixture
def story(db, as_user, clock):
    story = Story(db, as_user, clock)
    at(clock, 9)
    story.check_in("phq9", phq9(8, item9=1))  # an urgent flag
    story.check_in("gad7", gad7(9))  # a watch
    story.check_in("bam", bam(2))  # Part 2, and a substance-use watch
    return story


def export(story: Story, who: str):
    email = story.email if who == "graduate" else story.emails[who]
    return story.as_user(email).get(f"/api/v1/graduates/{story.graduate_id}/fhir")


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def codes(resource: dict) -> set[str]:
    return {c["code"] for c in resource["code"]["coding"] if c["system"] == LOINC}


def test_bundle_validates_and_uses_the_loinc_codes(story):
    response = export(story, "therapist")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    bundle = response.json
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    [patient] = resources(bundle, "Patient")
    assert set(patient) == {"resourceType", "id"}  # minimal: no name, no birth date
    responses = resources(bundle, "QuestionnaireResponse")
    assert len(responses) == 3
    by_code = {}
    for observation in resources(bundle, "Observation"):
        for code in codes(observation):
            by_code[code] = observation
    assert set(by_code) == {"44249-1", "44261-6", "44260-8", "69737-5", "70274-6"}
    assert by_code["44261-6"]["valueInteger"] == 8
    assert by_code["44260-8"]["valueInteger"] == 1
    assert by_code["70274-6"]["valueInteger"] == 9
    assert len(by_code["44249-1"]["hasMember"]) == 2  # total and item 9
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    for observation in resources(bundle, "Observation"):
        for ref in observation.get("hasMember", []) + observation["derivedFrom"]:
            assert ref["reference"] in full_urls
    flags = resources(bundle, "Flag")
    assert {f["status"] for f in flags} == {"active"}
    assert len(flags) == 3  # urgent, GAD-7 watch, substance-use watch


def test_part2_records_are_labelled_and_only_under_their_consent(story):
    full = export(story, "therapist").json
    labelled = [
        e["resource"]
        for e in full["entry"]
        if any(s["code"] == "42CFRPart2" for s in e["resource"].get("meta", {}).get("security", []))
    ]
    assert {r["resourceType"] for r in labelled} == {"QuestionnaireResponse", "Flag"}
    assert {s["code"] for s in full["meta"]["security"]} >= {"42CFRPart2", "ETH"}

    partial = export(story, "partial").json
    Bundle.model_validate(partial)
    assert "meta" not in partial
    assert "bam" not in str(partial).lower()
    assert len(resources(partial, "QuestionnaireResponse")) == 2
    assert len(resources(partial, "Flag")) == 2


def test_staff_and_the_graduate_may_export_and_every_export_is_audited(story, db):
    assert export(story, "staff").status_code == 200
    own = export(story, "graduate")
    assert own.status_code == 200
    Bundle.model_validate(own.json)
    assert resources(own.json, "Flag") == []  # graduates never see flags
    assert len(resources(own.json, "QuestionnaireResponse")) == 3
    export(story, "therapist")
    audited = db.scalars(
        select(AuditEvent.actor_role).where(
            AuditEvent.graduate_id == story.graduate_id, AuditEvent.action == "fhir.export"
        )
    ).all()
    assert sorted(audited) == ["graduate", "staff", "therapist"]
