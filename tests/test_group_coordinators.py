"""Groups at the API for the console's coordinators: meetings in the group's own time,
registers by name, and coordinators assigned by staff to the groups they run."""

from __future__ import annotations

from api.programs.models import Role
from tests import factories
from tests.test_groups import GROUP, _create, _join, _meetings, _register

CHICAGO = {**GROUP, "timezone": "America/Chicago", "starts_at_local": "2026-11-03T18:00:00"}


def test_a_tuesday_evening_in_chicago_reads_as_tuesday_evening(world, as_user):
    group = _create(world, as_user, **CHICAGO)
    caller = as_user(world.email("coordinator"))
    [meeting] = _meetings(caller, group["id"], "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z")
    assert meeting["original_start"] == "2026-11-11T00:00:00+00:00"  # Wednesday in UTC
    assert meeting["starts_at_local"] == "2026-11-10T18:00:00"  # the Tuesday members meet
    assert meeting["original_start_local"] == "2026-11-10T18:00:00"
    assert meeting["timezone"] == "America/Chicago"


def test_the_register_names_its_members(world, as_user):
    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    coordinator = as_user(world.email("coordinator"))
    saved = _register(
        coordinator,
        group["id"],
        "2026-11-17T23:00:00Z",
        [{"graduate_id": str(world.graduate.id), "status": "present"}],
    )
    assert saved.status_code == 200, saved.json
    assert saved.json[0]["display_name"] == world.graduate.display_name
    assert saved.json[0]["graduate_id"] == str(world.graduate.id)  # the key stays
    read = coordinator.get(
        f"/api/v1/groups/{group['id']}/occurrences/2026-11-17T23:00:00Z/attendance"
    )
    assert read.json[0]["display_name"] == world.graduate.display_name


def test_staff_assign_coordinators_who_then_run_only_their_groups(world, as_user, db):
    other = factories.member(db, world.program, Role.COORDINATOR)
    db.commit()
    mine = _create(world, as_user, name="Mine")
    theirs = _create(world, as_user, name="Theirs")
    staff = as_user(world.email("staff"))
    assigned = staff.put(
        f"/api/v1/groups/{theirs['id']}/coordinators", json={"emails": [other.email]}
    )
    assert assigned.status_code == 200, assigned.json
    assert [c["email"] for c in assigned.json] == [other.email]

    coordinator = as_user(world.email("coordinator"))
    listed = coordinator.get(f"/api/v1/programs/{world.program.id}/groups").json
    assert [g["name"] for g in listed] == ["Mine"]
    assert coordinator.get(f"/api/v1/groups/{theirs['id']}").status_code == 403
    assert (
        coordinator.post(
            f"/api/v1/groups/{theirs['id']}/announcements", json={"title": "Hi", "body": "x"}
        ).status_code
        == 403
    )
    assert coordinator.get(f"/api/v1/groups/{mine['id']}").status_code == 200
    runner = as_user(other.email)
    assert [g["name"] for g in runner.get(f"/api/v1/programs/{world.program.id}/groups").json] == [
        "Mine",
        "Theirs",
    ]
    assert staff.get(f"/api/v1/groups/{theirs['id']}").status_code == 200

    assert (
        coordinator.put(
            f"/api/v1/groups/{mine['id']}/coordinators", json={"emails": []}
        ).status_code
        == 403
    )  # staff assign
    not_one = staff.put(
        f"/api/v1/groups/{mine['id']}/coordinators", json={"emails": [world.email("staff")]}
    )
    assert not_one.status_code == 422
    back = staff.put(f"/api/v1/groups/{theirs['id']}/coordinators", json={"emails": []})
    assert back.json == []
    assert coordinator.get(f"/api/v1/groups/{theirs['id']}").status_code == 200
    outsider = as_user(world.email("other_staff"))
    assert (
        outsider.put(f"/api/v1/groups/{mine['id']}/coordinators", json={"emails": []}).status_code
        == 404
    )
