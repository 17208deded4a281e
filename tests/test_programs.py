"""Program members, caseloads, program isolation and the `programs create` command."""

from __future__ import annotations

import json
import uuid

import pytest

from tests import factories


@pytest.fixture
def staff(as_user, world):
    return as_user(world.email("staff"))


def members_url(world) -> str:
    return f"/api/v1/programs/{world.program.id}/members"


def test_add_member_returns_the_membership(staff, world, clock):
    email = factories.unique_email("coord")
    response = staff.post(members_url(world), json={"email": email, "role": "coordinator"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"id", "program_id", "email", "role", "user_id", "created_at"}
    uuid.UUID(body["id"])
    assert body["program_id"] == str(world.program.id)
    assert body["email"] == email
    assert body["role"] == "coordinator"
    assert body["user_id"] is None
    assert body["created_at"].startswith("2026-11-23T15:00:00")


def test_adding_someone_who_already_signed_in_links_them_at_once(staff, world, as_user):
    response = staff.post(
        members_url(world), json={"email": world.graduate_email, "role": "coordinator"}
    )
    assert response.status_code == 201
    me = as_user(world.graduate_email).get("/api/v1/me").get_json()
    assert response.get_json()["user_id"] == me["id"]
    assert {"program_id": str(world.program.id), "role": "coordinator"} in me["memberships"]


def test_same_email_and_role_again_is_409(staff, world):
    email = factories.unique_email("twice")
    assert staff.post(members_url(world), json={"email": email, "role": "staff"}).status_code == 201
    again = staff.post(members_url(world), json={"email": email, "role": "staff"})
    assert again.status_code == 409
    assert set(again.get_json()) >= {"code", "status", "message"}
    shouting = staff.post(members_url(world), json={"email": email.upper(), "role": "staff"})
    assert shouting.status_code == 409
    other_role = staff.post(members_url(world), json={"email": email, "role": "therapist"})
    assert other_role.status_code == 201


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "a@example.org", "role": "admin"}, {"role"}),
        ({"email": "a@example.org", "role": "graduate"}, {"role"}),
        ({"email": "a@example.org", "role": "STAFF"}, {"role"}),
        ({"email": "a@example.org"}, {"role"}),
        ({"email": "not-an-email", "role": "staff"}, {"email"}),
        ({"role": "staff"}, {"email"}),
        ({"email": "a@example.org", "role": "staff", "user_id": str(uuid.uuid4())}, {"user_id"}),
    ],
)
def test_bad_member_input_is_422(staff, world, body, fields):
    response = staff.post(members_url(world), json=body)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == fields


def test_members_are_paginated(staff, world):
    first = staff.get(f"{members_url(world)}?page=1&page_size=2")
    assert first.status_code == 200
    assert len(first.get_json()) == 2
    pagination = json.loads(first.headers["X-Pagination"])
    # staff, coordinator and three therapists
    assert pagination == {
        "total": 5,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 1,
        "next_page": 2,
    }
    pages = [first.get_json()]
    for page in (2, 3):
        response = staff.get(f"{members_url(world)}?page={page}&page_size=2")
        assert json.loads(response.headers["X-Pagination"])["page"] == page
        pages.append(response.get_json())
    assert [len(p) for p in pages] == [2, 2, 1]
    emails = [m["email"] for p in pages for m in p]
    assert len(set(emails)) == 5
    assert world.email("staff") in emails and world.email("coordinator") in emails

    therapists = staff.get(f"{members_url(world)}?role=therapist").get_json()
    assert {m["role"] for m in therapists} == {"therapist"} and len(therapists) == 3


def test_a_page_past_the_end_is_empty(staff, world):
    response = staff.get(f"{members_url(world)}?page=9&page_size=2")
    assert response.status_code == 200
    assert response.get_json() == []


def graduate_ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return sorted(g["id"] for g in response.get_json())


def test_therapists_see_only_their_caseload(world, as_user):
    url = f"/api/v1/programs/{world.program.id}/graduates"
    mine = [str(world.graduate.id)]
    assert graduate_ids(as_user(world.therapist_consent.email).get(url)) == mine
    assert graduate_ids(as_user(world.therapist_no_consent.email).get(url)) == mine
    empty = as_user(world.therapist_unlinked.email).get(url)
    assert graduate_ids(empty) == []
    assert json.loads(empty.headers["X-Pagination"])["total"] == 0
    everyone = sorted([str(world.graduate.id), str(world.other_graduate.id)])
    assert graduate_ids(as_user(world.email("staff")).get(url)) == everyone


def test_caseload_items_carry_no_clinical_fields(world, as_user):
    url = f"/api/v1/programs/{world.program.id}/graduates"
    [item] = as_user(world.therapist_consent.email).get(url).get_json()
    assert set(item) == {"id", "display_name", "graduation_date", "timezone"}


def test_staff_of_another_program_get_404_everywhere_in_it(world, as_user):
    outsider = as_user(world.email("other_staff"))
    pid, gid = world.program.id, world.graduate.id
    for method, url in [
        ("GET", f"/api/v1/programs/{pid}/members"),
        ("GET", f"/api/v1/programs/{pid}/graduates"),
        ("GET", f"/api/v1/programs/{pid}/audit-events"),
        ("GET", f"/api/v1/graduates/{gid}"),
        ("GET", f"/api/v1/graduates/{gid}/care-team"),
        ("GET", f"/api/v1/graduates/{gid}/consents"),
        ("POST", f"/api/v1/graduates/{gid}/enrollment-code"),
    ]:
        response = outsider.open(method, url)
        assert response.status_code == 404, (method, url, response.get_json())
    added = outsider.post(
        f"/api/v1/programs/{pid}/members", json={"email": "spy@example.org", "role": "staff"}
    )
    assert added.status_code == 404
    # ...and their own program still works.
    own = outsider.get(f"/api/v1/programs/{world.other_program.id}/members")
    assert own.status_code == 200
    assert [m["email"] for m in own.get_json()] == [world.email("other_staff")]


def test_a_program_that_does_not_exist_is_404(staff):
    assert staff.get(f"/api/v1/programs/{uuid.uuid4()}/members").status_code == 404


def test_cli_creates_a_program_with_its_first_staff_member(app, as_user, db):
    email = factories.unique_email("admin")
    result = app.test_cli_runner().invoke(
        args=["programs", "create", "--name", "Riverside IOP", "--admin-email", email]
    )
    assert result.exit_code == 0, result.output
    last_line = result.output.strip().splitlines()[-1]
    program_id = uuid.UUID(last_line)
    assert str(program_id) == last_line

    admin = as_user(email)
    me = admin.get("/api/v1/me").get_json()
    assert me["memberships"] == [{"program_id": last_line, "role": "staff"}]
    members = admin.get(f"/api/v1/programs/{program_id}/members").get_json()
    assert [(m["email"], m["role"], m["user_id"]) for m in members] == [(email, "staff", me["id"])]


def test_cli_requires_name_and_admin_email(app, db):
    result = app.test_cli_runner().invoke(args=["programs", "create", "--name", "No admin"])
    assert result.exit_code != 0
