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


def _answers(as_user, world, group_id, start, end) -> dict[str, str | None]:
    found = _meetings(as_user(world.email("graduate")), group_id, start, end)
    return {m["starts_at_local"]: m["my_rsvp"] for m in found}


def test_answers_follow_their_meetings_when_the_schedule_changes_or_are_cleared_with_a_notice(
    world, as_user
):
    group = _create(world, as_user, **CHICAGO)
    _join(world, as_user, group["id"])
    graduate = as_user(world.email("graduate"))
    for start in ("2026-11-25T00:00:00Z", "2026-12-02T00:00:00Z"):  # Tue 24 Nov, Tue 1 Dec
        answered = graduate.put(
            f"/api/v1/groups/{group['id']}/occurrences/{start}/rsvp", json={"response": "yes"}
        )
        assert answered.status_code == 200, answered.json
    staff = as_user(world.email("staff"))
    later = staff.patch(
        f"/api/v1/groups/{group['id']}", json={"starts_at_local": "2026-11-03T19:00:00"}
    )
    assert later.status_code == 200, later.json
    window = ("2026-11-24T00:00:00Z", "2026-12-05T00:00:00Z")
    assert _answers(as_user, world, group["id"], *window) == {
        "2026-11-24T19:00:00": "yes",
        "2026-12-01T19:00:00": "yes",
    }
    news = graduate.get(f"/api/v1/groups/{group['id']}/announcements").json
    assert news == []  # everyone's answer followed: nothing to tell

    monthly = staff.patch(
        f"/api/v1/groups/{group['id']}",
        json={"rrule": "FREQ=MONTHLY;BYDAY=1TH", "starts_at_local": "2026-11-05T19:00:00"},
    )
    assert monthly.status_code == 200, monthly.json
    # The week of 24 Nov has no meeting any more: cleared. The week of 1 Dec has Thu 3 Dec.
    assert _answers(as_user, world, group["id"], *window) == {"2026-12-03T19:00:00": "yes"}
    [notice] = graduate.get(f"/api/v1/groups/{group['id']}/announcements").json
    assert notice["title"] == "Meeting times changed"
