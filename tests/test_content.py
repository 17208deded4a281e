"""The content library over the API: questionnaires per API.md, skills and cards as each
program shows them, ETags, and a program's hide/unhide and own skills."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from api.content.models import ProgramContent
from api.content.service import ProgramCatalogue
from api.programs.models import Membership, Role
from tests import factories

V1 = "/api/v1"
LA_FREQUENCY = [
    (0, "Not at all", "LA6568-5"),
    (1, "Several days", "LA6569-3"),
    (2, "More than half the days", "LA6570-1"),
    (3, "Nearly every day", "LA6571-9"),
]
OWN_SKILL = {
    "id": "lakeside-walk-and-talk",
    "version": 2,
    "title": "Walk and talk",
    "category": "relapse-prevention",
    "minutes": 20,
    "phases": ["month1", "months2_3"],
    "tags": ["connection"],
    "summary": "Call someone from your list while you take a short walk.",
    "body": "1. Pick someone from your list.\n2. Call them and walk while you talk.\n",
}


@pytest.fixture
def staff(as_user, world):
    return as_user(world.email("staff"))


@pytest.fixture
def graduate(as_user, world):
    return as_user(world.email("graduate"))


def program_url(world, *parts: str) -> str:
    return "/".join((f"{V1}/programs/{world.program.id}/content", *parts))


def skill_ids(caller, **query) -> list[str]:
    params = "&".join(f"{k}={v}" for k, v in {"page_size": 100, **query}.items())
    response = caller.get(f"{V1}/content/skills?{params}")
    assert response.status_code == 200, response.json
    return [skill["id"] for skill in response.json]


def override_rows(db) -> int:
    return db.scalar(select(func.count()).select_from(ProgramContent))


# --- questionnaires ----------------------------------------------------------------------


EXPECTED_FORMS = {
    "phq9": ([f"phq9-{n}" for n in range(1, 10)], {"phq9-1": range(0, 4)}),
    "gad7": ([f"gad7-{n}" for n in range(1, 8)], {"gad7-7": range(0, 4)}),
    "who5": ([f"who5-{n}" for n in range(1, 6)], {"who5-1": range(0, 6)}),
    "bam": (
        [f"bam-{n}" for n in range(1, 18)],
        {"bam-4": range(0, 8), "bam-6": range(0, 8), "bam-8": range(0, 5)},
    ),
    "daily": (
        [
            "daily-mood",
            "phq2-1",
            "phq2-2",
            "gad2-1",
            "gad2-2",
            "daily-sleep-hours",
            "daily-safe",
        ],
        {"daily-mood": range(0, 11), "phq2-1": range(0, 4), "daily-safe": range(0, 2)},
    ),
}


@pytest.mark.parametrize("form", list(EXPECTED_FORMS))
def test_questionnaire_shape_follows_the_contract(graduate, form):
    response = graduate.get(f"{V1}/content/questionnaires/{form}")
    assert response.status_code == 200, response.json
    body = response.json
    assert {"id", "version", "items"} <= set(body)
    assert body["id"] == form and isinstance(body["version"], str) and body["version"]
    link_ids, ranges = EXPECTED_FORMS[form]
    assert [item["link_id"] for item in body["items"]] == link_ids
    for item in body["items"]:
        assert {"link_id", "text", "answers"} <= set(item) and item["text"]
        for answer in item["answers"]:
            assert set(answer) == {"value", "label", "code"}
            assert isinstance(answer["value"], int)
    by_link = {item["link_id"]: item for item in body["items"]}
    for link_id, values in ranges.items():
        assert sorted(a["value"] for a in by_link[link_id]["answers"]) == list(values)


def test_phq9_answers_carry_loinc_answer_codes(graduate):
    items = graduate.get(f"{V1}/content/questionnaires/phq9").json["items"]
    assert len(items) == 9
    for item in items:
        assert [(a["value"], a["label"], a["code"]) for a in item["answers"]] == LA_FREQUENCY
    assert items[8]["loinc"] == "44260-8"


def test_a_range_lists_every_value_with_labels_only_where_given(graduate):
    items = graduate.get(f"{V1}/content/questionnaires/daily").json["items"]
    mood = next(item for item in items if item["link_id"] == "daily-mood")["answers"]
    assert mood[0] == {"value": 0, "label": "Worst", "code": None}
    assert mood[5] == {"value": 5, "label": None, "code": None}
    assert mood[10] == {"value": 10, "label": "Best", "code": None}
    safe = next(item for item in items if item["link_id"] == "daily-safe")
    assert safe["required"] is False
    assert {a["value"]: a["label"] for a in safe["answers"]}[0] == "I'm not safe right now"


@pytest.mark.parametrize("form", ["phq2", "gad2", "nope", "PHQ9"])
def test_forms_asked_only_inside_daily_and_unknown_forms_are_404(graduate, form):
    response = graduate.get(f"{V1}/content/questionnaires/{form}")
    assert response.status_code == 404
    assert set(response.json) >= {"code", "status", "message"}


def test_content_reads_need_sign_in(as_user):
    response = as_user(None).get(f"{V1}/content/questionnaires/phq9")
    assert response.status_code == 401


# --- skills and cards --------------------------------------------------------------------


def test_skills_are_paginated_twenty_by_default(graduate, app):
    library = app.extensions["companion"].content
    total = len(library.skills())
    first = graduate.get(f"{V1}/content/skills")
    assert first.status_code == 200
    paging = json.loads(first.headers["X-Pagination"])
    assert paging["total"] == total and paging["page"] == 1
    assert len(first.json) == min(20, total)
    second = graduate.get(f"{V1}/content/skills?page=2")
    ids = [s["id"] for s in first.json + second.json]
    assert ids == sorted(skill.id for skill in library.skills())
    assert "body" not in first.json[0] and first.json[0]["source"] == "library"
    assert graduate.get(f"{V1}/content/skills?page_size=101").status_code == 422


def test_skills_filter_by_category_and_phase(graduate, app):
    library = app.extensions["companion"].content
    dbt = skill_ids(graduate, category="dbt")
    assert dbt and dbt == sorted(s.id for s in library.skills() if s.category == "dbt")
    month1 = skill_ids(graduate, phase="month1")
    assert "mindfulness-body-scan" not in month1 and "dbt-stop" in month1
    both = skill_ids(graduate, category="mindfulness", phase="month1")
    assert both and all(s.startswith("mindfulness-") for s in both)
    assert "mindfulness-body-scan" not in both


@pytest.mark.parametrize("query", ["category=yoga", "phase=month7"])
def test_bad_skill_filters_are_422(graduate, query):
    response = graduate.get(f"{V1}/content/skills?{query}")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {query.split("=")[0]}


def test_one_skill_has_its_markdown_body(graduate):
    response = graduate.get(f"{V1}/content/skills/dbt-stop")
    assert response.status_code == 200
    skill = response.json
    assert skill["id"] == "dbt-stop" and skill["category"] == "dbt"
    assert skill["body"].startswith("STOP") or "## Steps" in skill["body"]
    assert isinstance(skill["version"], int) and isinstance(skill["phases"], list)
    assert graduate.get(f"{V1}/content/skills/no-such-skill").status_code == 404


def test_psychoeducation_cards_list_filter_and_read(graduate, app):
    library = app.extensions["companion"].content
    listed = graduate.get(f"{V1}/content/psychoeducation")
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json] == [c.id for c in library.cards()]
    month1 = graduate.get(f"{V1}/content/psychoeducation?phase=month1").json
    assert {c["phase"] for c in month1} == {"month1"}
    assert {"phase-month1", "warning-signs"} <= {c["id"] for c in month1}
    card = graduate.get(f"{V1}/content/psychoeducation/phase-month1").json
    assert card["title"] and card["body"].strip() and card["phase"] == "month1"
    assert graduate.get(f"{V1}/content/psychoeducation/nope").status_code == 404
    assert graduate.get(f"{V1}/content/psychoeducation?phase=soon").status_code == 422


# --- ETags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/content/skills",
        "/content/skills?category=dbt",
        "/content/skills/dbt-stop",
        "/content/psychoeducation",
        "/content/psychoeducation/phase-month1",
        "/content/questionnaires/phq9",
    ],
)
def test_if_none_match_with_the_etag_is_304(graduate, path):
    first = graduate.get(V1 + path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag and first.headers["Cache-Control"] == "private, no-cache"
    again = graduate.get(V1 + path)
    assert again.headers["ETag"] == etag
    cached = graduate.get(V1 + path, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.get_data() == b""
    stale = graduate.get(V1 + path, headers={"If-None-Match": '"not-it"'})
    assert stale.status_code == 200


def test_etags_differ_by_page_and_filter(graduate):
    tags = {
        graduate.get(f"{V1}/content/skills{query}").headers["ETag"]
        for query in ("", "?page=2", "?category=dbt", "?phase=month1")
    }
    assert len(tags) == 4


def test_the_etag_changes_when_the_program_hides_a_skill(staff, graduate, world):
    before = graduate.get(f"{V1}/content/skills").headers["ETag"]
    assert (
        staff.put(program_url(world, "skill", "dbt-stop"), json={"hidden": True}).status_code == 200
    )
    after = graduate.get(f"{V1}/content/skills", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before


# --- a program's hide and unhide ---------------------------------------------------------


def test_a_hidden_skill_disappears_only_for_that_programs_callers(
    staff, graduate, as_user, world, db
):
    response = staff.put(program_url(world, "skill", "dbt-stop"), json={"hidden": True})
    assert response.status_code == 200
    assert response.json["hidden"] is True and response.json["source"] == "library"
    assert response.json["kind"] == "skill" and response.json["content_id"] == "dbt-stop"

    same_program = [graduate, as_user(world.email("other_graduate")), staff]
    same_program.append(as_user(world.email("therapist_consent")))
    for caller in same_program:
        assert "dbt-stop" not in skill_ids(caller)
        assert caller.get(f"{V1}/content/skills/dbt-stop").status_code == 404
        assert "dbt-stop" not in skill_ids(caller, category="dbt")

    elsewhere_email = factories.unique_email("elsewhere")
    factories.graduate(db, world.other_program, email=elsewhere_email)
    db.commit()
    others = [
        as_user(world.email("other_staff")),
        as_user(elsewhere_email),
        as_user(factories.unique_email("nobody")),  # in no program: the plain library
    ]
    for caller in others:
        assert "dbt-stop" in skill_ids(caller)
        assert caller.get(f"{V1}/content/skills/dbt-stop").status_code == 200

    shown = staff.put(program_url(world, "skill", "dbt-stop"), json={"hidden": False})
    assert shown.status_code == 200 and shown.json["hidden"] is False
    assert "dbt-stop" in skill_ids(graduate)


def test_hiding_twice_and_showing_an_unhidden_item_are_no_ops(staff, world, db):
    url = program_url(world, "skill", "dbt-tipp")
    assert staff.put(url, json={"hidden": False}).json["hidden"] is False
    assert staff.put(url, json={"hidden": True}).status_code == 200
    assert staff.put(url, json={"hidden": True}).status_code == 200
    assert override_rows(db) == 1


def test_a_hidden_card_disappears_for_the_program(staff, graduate, world):
    response = staff.put(program_url(world, "card", "warning-signs"), json={"hidden": True})
    assert response.status_code == 200
    ids = [c["id"] for c in graduate.get(f"{V1}/content/psychoeducation").json]
    assert "warning-signs" not in ids and "phase-month1" in ids
    assert graduate.get(f"{V1}/content/psychoeducation/warning-signs").status_code == 404
    # A card id is not a skill id: kinds do not mix.
    assert (
        staff.put(program_url(world, "skill", "warning-signs"), json={"hidden": True}).status_code
        == 404
    )


def test_a_member_of_a_second_program_sees_what_either_program_shows(as_user, world, db):
    staff_email = world.email("staff")
    # The same person is also staff of the other program, which does not hide dbt-stop.
    membership = factories.member(
        db, world.other_program, Role.STAFF, email=staff_email, signed_in=False
    )
    membership.user_id = db.scalar(
        select(Membership.user_id).where(Membership.id == world.staff.id)
    )
    db.commit()
    staff = as_user(staff_email)
    assert (
        staff.put(program_url(world, "skill", "dbt-stop"), json={"hidden": True}).status_code == 200
    )
    assert "dbt-stop" in skill_ids(staff)


@pytest.mark.parametrize(
    ("kind", "content_id", "status"),
    [("skill", "no-such-skill", 404), ("card", "no-such-card", 404), ("things", "dbt-stop", 404)],
)
def test_hiding_something_unknown_is_404_and_writes_nothing(
    staff, world, db, kind, content_id, status
):
    response = staff.put(program_url(world, kind, content_id), json={"hidden": True})
    assert response.status_code == status
    assert override_rows(db) == 0


@pytest.mark.parametrize("body", [{}, {"hidden": "yes"}, {"hidden": 1}, {"hidden": True, "x": 1}])
def test_a_bad_visibility_body_is_422(staff, world, db, body):
    response = staff.put(program_url(world, "skill", "dbt-stop"), json=body)
    assert response.status_code == 422
    assert override_rows(db) == 0


# --- a program's own skills --------------------------------------------------------------


def test_a_programs_own_skill_is_shown_to_its_callers_only(staff, graduate, as_user, world):
    response = staff.post(program_url(world, "skills"), json=OWN_SKILL)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["source"] == "program"
    assert {k: created[k] for k in OWN_SKILL if k != "body"} == {
        k: v for k, v in OWN_SKILL.items() if k != "body"
    }
    assert created["body"] == OWN_SKILL["body"]

    assert OWN_SKILL["id"] in skill_ids(graduate)
    assert OWN_SKILL["id"] in skill_ids(graduate, category="relapse-prevention", phase="month1")
    assert OWN_SKILL["id"] not in skill_ids(graduate, phase="maintenance")
    detail = graduate.get(f"{V1}/content/skills/{OWN_SKILL['id']}")
    assert detail.status_code == 200 and detail.json["source"] == "program"
    assert detail.json["body"] == OWN_SKILL["body"]

    outsider = as_user(world.email("other_staff"))
    assert OWN_SKILL["id"] not in skill_ids(outsider)
    assert outsider.get(f"{V1}/content/skills/{OWN_SKILL['id']}").status_code == 404

    hidden = staff.put(program_url(world, "skill", OWN_SKILL["id"]), json={"hidden": True})
    assert hidden.status_code == 200 and hidden.json["source"] == "program"
    assert OWN_SKILL["id"] not in skill_ids(graduate)
    assert (
        staff.put(program_url(world, "skill", OWN_SKILL["id"]), json={"hidden": False}).status_code
        == 200
    )
    assert OWN_SKILL["id"] in skill_ids(graduate)


def test_version_and_tags_default(staff, world):
    body = {k: v for k, v in OWN_SKILL.items() if k not in ("version", "tags")}
    created = staff.post(program_url(world, "skills"), json=body).json
    assert created["version"] == 1 and created["tags"] == []


@pytest.mark.parametrize("clash", ["dbt-stop", "grounding-5-4-3-2-1"])
def test_an_own_skill_may_not_take_a_library_id(staff, world, db, clash):
    response = staff.post(program_url(world, "skills"), json={**OWN_SKILL, "id": clash})
    assert response.status_code == 409
    assert clash in response.json["message"]
    assert override_rows(db) == 0


def test_an_own_skill_id_is_taken_once_per_program(staff, as_user, world, db):
    assert staff.post(program_url(world, "skills"), json=OWN_SKILL).status_code == 201
    again = staff.post(program_url(world, "skills"), json={**OWN_SKILL, "title": "Again"})
    assert again.status_code == 409
    assert override_rows(db) == 1
    # Another program may use the same id for its own skill.
    other = as_user(world.email("other_staff"))
    url = f"{V1}/programs/{world.other_program.id}/content/skills"
    assert other.post(url, json=OWN_SKILL).status_code == 201


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"category": "yoga"}, {"category"}),
        ({"minutes": 0}, {"minutes"}),
        ({"minutes": 61}, {"minutes"}),
        ({"minutes": "10"}, {"minutes"}),
        ({"phases": []}, {"phases"}),
        ({"phases": ["month7"]}, {"phases[0]"}),
        ({"phases": ["month1", "month1"]}, {"phases[1]"}),
        ({"id": "Has Spaces"}, {"id"}),
        ({"title": "  "}, {"title"}),
        ({"title": "x" * 121}, {"title"}),
        ({"body": " \n "}, {"body"}),
        ({"version": 0}, {"version"}),
        ({"tags": "calm"}, {"tags"}),
        ({"author": "me"}, {"author"}),
        ({"title": None}, {"title"}),
    ],
)
def test_a_bad_own_skill_is_422_by_field_and_writes_nothing(staff, world, db, change, fields):
    response = staff.post(program_url(world, "skills"), json={**OWN_SKILL, **change})
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == fields
    assert set(response.json) >= {"code", "status", "message"}
    assert override_rows(db) == 0


@pytest.mark.parametrize(
    "missing", ["id", "title", "category", "minutes", "phases", "summary", "body"]
)
def test_an_own_skill_needs_every_required_field(staff, world, db, missing):
    body = {k: v for k, v in OWN_SKILL.items() if k != missing}
    response = staff.post(program_url(world, "skills"), json=body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {missing}
    assert override_rows(db) == 0


def test_staff_list_what_their_program_changed(staff, world):
    assert (
        staff.put(program_url(world, "skill", "dbt-stop"), json={"hidden": True}).status_code == 200
    )
    assert (
        staff.put(program_url(world, "card", "warning-signs"), json={"hidden": True}).status_code
        == 200
    )
    assert staff.post(program_url(world, "skills"), json=OWN_SKILL).status_code == 201
    listed = staff.get(program_url(world))
    assert listed.status_code == 200
    assert [(r["kind"], r["content_id"], r["hidden"], r["source"]) for r in listed.json] == [
        ("card", "warning-signs", True, "library"),
        ("skill", "dbt-stop", True, "library"),
        ("skill", OWN_SKILL["id"], False, "program"),
    ]


def test_the_catalogue_names_a_programs_visible_skills(staff, world, app, db):
    assert (
        staff.put(program_url(world, "skill", "dbt-stop"), json={"hidden": True}).status_code == 200
    )
    assert staff.post(program_url(world, "skills"), json=OWN_SKILL).status_code == 201
    catalogue = ProgramCatalogue(app.extensions["companion"].content)
    title = catalogue.skill_title
    program, other = world.program.id, world.other_program.id
    assert title(session=db, program_id=program, skill_id="dbt-stop") is None
    assert title(session=db, program_id=other, skill_id="dbt-stop") == "STOP before you act"
    assert title(session=db, program_id=program, skill_id=OWN_SKILL["id"]) == "Walk and talk"
    assert title(session=db, program_id=other, skill_id=OWN_SKILL["id"]) is None
    assert (
        staff.put(program_url(world, "card", "phase-month1"), json={"hidden": True}).status_code
        == 200
    )
    card = catalogue.card_for_phase(session=db, program_id=program, phase="month1")
    assert card is not None and card.id == "warning-signs"
    card = catalogue.card_for_phase(session=db, program_id=other, phase="month1")
    assert card is not None and card.id == "phase-month1"
