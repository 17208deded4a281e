"""Alumni and aftercare groups at the API: run by coordinators, joined by graduates, and
never a window onto anyone's clinical record."""

from __future__ import annotations

import json
import uuid

import icalendar
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.flags.models import Flag
from api.graduates.models import Graduate
from api.groups.announcements import announcement_recipients
from api.groups.models import GroupMember
from api.notifications.models import Notification
from tests import factories

# A Tuesday group at 18:00 New York time that began before the clocks went back on Nov 1.
GROUP = {
    "name": "Tuesday aftercare",
    "kind": "aftercare",
    "mode": "in_person",
    "location": "Riverbend, room 2",
    "capacity": 8,
    "description": "Skills practice and check-in",
    "facilitator": "Jo Park, LCSW",
    "timezone": "America/New_York",
    "starts_at_local": "2026-10-27T18:00:00",
    "duration_minutes": 90,
    "rrule": "FREQ=WEEKLY;BYDAY=TU",
}
NOV_10 = "2026-11-10T23:00:00Z"
NOV_17 = "2026-11-17T23:00:00Z"
NOV_24 = "2026-11-24T23:00:00Z"  # tomorrow, as the clock stands


def _programs(world) -> str:
    return f"/api/v1/programs/{world.program.id}/groups"


def _create(world, as_user, **changes) -> dict:
    response = as_user(world.email("coordinator")).post(_programs(world), json={**GROUP, **changes})
    assert response.status_code == 201, response.json
    return response.json


def _join(world, as_user, group_id, persona="graduate", share_name=False) -> dict:
    response = as_user(world.email(persona)).post(
        f"/api/v1/groups/{group_id}/membership", json={"share_name": share_name}
    )
    assert response.status_code == 201, response.json
    return response.json


def _meetings(caller, group_id, start, end) -> list[dict]:
    response = caller.get(f"/api/v1/groups/{group_id}/occurrences?from={start}&to={end}")
    assert response.status_code == 200, response.json
    return response.json


def _register(caller, group_id, start, records):
    return caller.put(
        f"/api/v1/groups/{group_id}/occurrences/{start}/attendance", json={"records": records}
    )


# --- lifecycle -------------------------------------------------------------------------


def test_a_coordinator_runs_a_group_from_start_to_archive(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    graduate = as_user(world.email("graduate"))
    group = _create(world, as_user)
    assert group["seats_left"] == 8 and group["starts_at"] == "2026-10-27T22:00:00+00:00"
    assert group["starts_at_local"] == "2026-10-27T18:00:00"

    seen = graduate.get(f"/api/v1/groups/{group['id']}").json
    assert seen["group"]["name"] == "Tuesday aftercare" and seen["membership"] is None
    assert seen["waitlist_count"] is None

    changed = coordinator.patch(
        f"/api/v1/groups/{group['id']}",
        json={"mode": "video", "video_url": "https://video.example.org/tuesday", "capacity": 10},
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["mode"] == "video" and changed.json["capacity"] == 10
    assert changed.json["starts_at_local"] == "2026-10-27T18:00:00"

    archived = coordinator.post(f"/api/v1/groups/{group['id']}/archive")
    assert archived.status_code == 200 and archived.json["archived_at"] is not None
    assert graduate.get(_programs(world)).json == []
    assert len(coordinator.get(f"{_programs(world)}?archived=true").json) == 1
    late = graduate.post(f"/api/v1/groups/{group['id']}/membership", json={})
    assert late.status_code == 422
    assert (
        coordinator.patch(f"/api/v1/groups/{group['id']}", json={"capacity": 4}).status_code == 409
    )


def test_group_lists_are_paginated(world, as_user):
    for name in ("A", "B", "C"):
        _create(world, as_user, name=f"Group {name}")
    first = as_user(world.email("graduate")).get(f"{_programs(world)}?page_size=2")
    assert [item["name"] for item in first.json] == ["Group A", "Group B"]
    assert json.loads(first.headers["X-Pagination"])["total"] == 3
    too_big = as_user(world.email("coordinator")).get(f"{_programs(world)}?page_size=101")
    assert too_big.status_code == 422


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MINUTELY",
        "FREQ=HOURLY;INTERVAL=1",
        "FREQ=SECONDLY;COUNT=5",
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH",
        "FREQ=DAILY;BYHOUR=9,10,11,12",
        "DTSTART:20261027T180000\nRRULE:FREQ=WEEKLY",
        "every tuesday",
        "FREQ=WEEKLY;UNTIL=20250101T000000",
    ],
)
def test_absurd_or_unbounded_rules_are_refused_and_nothing_is_made(world, as_user, rule):
    coordinator = as_user(world.email("coordinator"))
    response = coordinator.post(_programs(world), json={**GROUP, "rrule": rule})
    assert response.status_code == 422, response.json
    assert "rrule" in response.json["errors"] and response.json["message"]
    assert coordinator.get(_programs(world)).json == []


def test_a_group_needs_its_place_or_link_and_a_real_zone(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    no_place = coordinator.post(_programs(world), json={**GROUP, "location": None})
    assert no_place.status_code == 422 and "location" in no_place.json["errors"]
    no_link = coordinator.post(_programs(world), json={**GROUP, "mode": "video"})
    assert no_link.status_code == 422 and "video_url" in no_link.json["errors"]
    no_zone = coordinator.post(_programs(world), json={**GROUP, "timezone": "Mars/Olympus"})
    assert no_zone.status_code == 422 and "timezone" in no_zone.json["errors"]


# --- recurrence and single meetings ------------------------------------------------------


def test_meetings_keep_their_wall_clock_time_across_both_dst_changes(world, as_user):
    group = _create(world, as_user, rrule="FREQ=WEEKLY;BYDAY=TU;UNTIL=20270401T000000")
    caller = as_user(world.email("graduate"))
    autumn = _meetings(caller, group["id"], "2026-10-20T00:00:00Z", "2026-11-11T00:00:00Z")
    assert [m["starts_at"] for m in autumn] == [
        "2026-10-27T22:00:00+00:00",  # EDT
        "2026-11-03T23:00:00+00:00",  # EST, after Nov 1
        "2026-11-10T23:00:00+00:00",
    ]
    spring = _meetings(caller, group["id"], "2027-03-01T00:00:00Z", "2027-03-20T00:00:00Z")
    assert [m["starts_at"] for m in spring] == [
        "2027-03-02T23:00:00+00:00",
        "2027-03-09T23:00:00+00:00",
        "2027-03-16T22:00:00+00:00",  # EDT again after Mar 14
    ]
    assert all(m["ends_at"].endswith(":30:00+00:00") for m in autumn + spring)
    assert _meetings(caller, group["id"], "2027-04-01T00:00:00Z", "2027-05-01T00:00:00Z") == []


def test_one_meeting_cancelled_and_another_moved(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    base = f"/api/v1/groups/{group['id']}/occurrences"
    cancelled = coordinator.put(f"{base}/{NOV_24}", json={"cancelled": True, "note": "Holiday"})
    assert cancelled.status_code == 200 and cancelled.json["cancelled"] is True
    moved = coordinator.put(
        f"{base}/2026-12-01T23:00:00Z",
        json={
            "cancelled": False,
            "starts_at_local": "2026-12-02T19:00:00",
            "location": "Riverbend, hall",
        },
    )
    assert moved.status_code == 200, moved.json
    listed = _meetings(coordinator, group["id"], "2026-11-24T00:00:00Z", "2026-12-03T00:00:00Z")
    assert [(m["original_start"], m["cancelled"], m["moved"]) for m in listed] == [
        ("2026-11-24T23:00:00+00:00", True, False),
        ("2026-12-01T23:00:00+00:00", False, True),
    ]
    assert listed[1]["starts_at"] == "2026-12-03T00:00:00+00:00"
    assert listed[1]["location"] == "Riverbend, hall" and listed[0]["note"] == "Holiday"
    missing = coordinator.put(f"{base}/2026-11-25T23:00:00Z", json={"cancelled": True})
    assert missing.status_code == 404
    assert coordinator.put(f"{base}/not-a-time", json={"cancelled": True}).status_code == 404

    _join(world, as_user, group["id"])
    graduate = as_user(world.email("graduate"))
    refused = graduate.put(f"{base}/{NOV_24}/rsvp", json={"response": "yes"})
    assert refused.status_code == 422 and "cancelled" in refused.json["message"]
    ok = graduate.put(f"{base}/2026-12-01T23:00:00Z/rsvp", json={"response": "yes"})
    assert ok.status_code == 200

    restored = coordinator.put(f"{base}/{NOV_24}", json={"cancelled": False})
    assert restored.json["cancelled"] is False and restored.json["moved"] is False


# --- membership, RSVPs, waitlist ----------------------------------------------------------


def test_rsvps_only_from_seated_members_to_meetings_still_to_come(world, as_user):
    group = _create(world, as_user, capacity=1)
    base = f"/api/v1/groups/{group['id']}/occurrences"
    graduate = as_user(world.email("graduate"))
    other = as_user(world.email("other_graduate"))
    assert other.put(f"{base}/{NOV_24}/rsvp", json={"response": "yes"}).status_code == 403
    _join(world, as_user, group["id"])
    assert _join(world, as_user, group["id"], "other_graduate")["status"] == "waitlisted"
    waiting = other.put(f"{base}/{NOV_24}/rsvp", json={"response": "yes"})
    assert waiting.status_code == 422

    past = graduate.put(f"{base}/{NOV_17}/rsvp", json={"response": "yes"})
    assert past.status_code == 422 and "started" in past.json["message"]
    assert graduate.put(f"{base}/{NOV_24}/rsvp", json={"response": "maybe"}).status_code == 422
    assert graduate.put(f"{base}/{NOV_24}/rsvp", json={"response": "yes"}).json["response"] == "yes"
    assert graduate.put(f"{base}/{NOV_24}/rsvp", json={"response": "no"}).status_code == 200
    [mine] = _meetings(graduate, group["id"], NOV_24, "2026-11-25T00:00:00Z")
    assert mine["my_rsvp"] == "no" and mine["going"] is None
    coordinator = as_user(world.email("coordinator"))
    [theirs] = _meetings(coordinator, group["id"], NOV_24, "2026-11-25T00:00:00Z")
    assert theirs["going"] == 0 and theirs["my_rsvp"] is None


def test_a_full_group_waitlists_and_a_leaver_makes_room(world, as_user, db):
    group = _create(world, as_user, capacity=1)
    graduate = as_user(world.email("graduate"))
    other = as_user(world.email("other_graduate"))
    assert _join(world, as_user, group["id"])["status"] == "member"
    assert _join(world, as_user, group["id"], "other_graduate")["status"] == "waitlisted"
    again = graduate.post(f"/api/v1/groups/{group['id']}/membership", json={})
    assert again.status_code == 409
    assert graduate.get(f"/api/v1/groups/{group['id']}").json["group"]["seats_left"] == 0
    coordinator = as_user(world.email("coordinator"))
    assert coordinator.get(f"/api/v1/groups/{group['id']}").json["waitlist_count"] == 1

    graduate.put(
        f"/api/v1/groups/{group['id']}/occurrences/{NOV_24}/rsvp", json={"response": "yes"}
    )
    left = graduate.delete(f"/api/v1/groups/{group['id']}/membership")
    assert left.status_code == 204 and left.data == b""
    promoted = other.get(f"/api/v1/groups/{group['id']}").json["membership"]
    assert promoted["status"] == "member"
    assert graduate.delete(f"/api/v1/groups/{group['id']}/membership").status_code == 404
    [meeting] = _meetings(coordinator, group["id"], NOV_24, "2026-11-25T00:00:00Z")
    assert meeting["going"] == 0  # the leaver's RSVP went with them

    # More seats seat the waitlist in order; fewer than the seated members is refused.
    assert _join(world, as_user, group["id"])["status"] == "waitlisted"
    grown = coordinator.patch(f"/api/v1/groups/{group['id']}", json={"capacity": 3})
    assert grown.json["seats_left"] == 1
    assert graduate.get(f"/api/v1/groups/{group['id']}").json["membership"]["status"] == "member"
    shrunk = coordinator.patch(f"/api/v1/groups/{group['id']}", json={"capacity": 1})
    assert shrunk.status_code == 422 and "capacity" in shrunk.json["errors"]
    assert (
        coordinator.patch(f"/api/v1/groups/{group['id']}", json={"capacity": 2}).status_code == 200
    )
    seats = db.scalars(
        select(GroupMember.seat).where(GroupMember.group_id == uuid.UUID(group["id"]))
    ).all()
    assert sorted(seats) == [1, 2]


def test_the_seat_constraint_refuses_a_second_holder_of_one_seat(world, as_user, db, clock):
    group = _create(world, as_user, capacity=2)
    _join(world, as_user, group["id"])
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(
            GroupMember(
                group_id=uuid.UUID(group["id"]),
                graduate_id=world.other_graduate.id,
                status="member",
                seat=1,
                share_name=False,
                joined_at=clock.now(),
            )
        )
        db.flush()


# --- peer privacy --------------------------------------------------------------------------


def _name(db, graduate_id, name: str) -> None:
    db.get(Graduate, graduate_id).display_name = name
    db.commit()


def test_member_names_are_for_coordinators_and_members_who_share_their_own(world, as_user, db):
    _name(db, world.graduate.id, "Maya")
    _name(db, world.other_graduate.id, "Jordan")
    group = _create(world, as_user)
    _join(world, as_user, group["id"], share_name=True)
    _join(world, as_user, group["id"], "other_graduate", share_name=False)
    path = f"/api/v1/groups/{group['id']}"

    peers = as_user(world.email("graduate")).get(f"{path}/peers")
    assert peers.json == {"names": ["Maya"], "others": 1}
    shy = as_user(world.email("other_graduate"))
    assert shy.get(f"{path}/peers").status_code == 403
    assert shy.get(f"{path}/members").status_code == 403

    listed = as_user(world.email("coordinator")).get(f"{path}/members?page_size=1")
    assert listed.status_code == 200
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2
    assert set(listed.json[0]) == {"graduate_id", "display_name", "status", "joined_at"}
    everyone = as_user(world.email("coordinator")).get(f"{path}/members").json
    assert [m["display_name"] for m in everyone] == ["Maya", "Jordan"]

    assert shy.patch(f"{path}/membership", json={"share_name": True}).status_code == 200
    assert shy.get(f"{path}/peers").json == {"names": ["Maya", "Jordan"], "others": 0}


# --- attendance and the engagement signal -------------------------------------------------


def test_bulk_attendance_is_an_idempotent_overwrite_checked_whole(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    _join(world, as_user, group["id"], "other_graduate")
    records = [
        {"graduate_id": str(world.graduate.id), "status": "present"},
        {"graduate_id": str(world.other_graduate.id), "status": "excused"},
    ]
    first = _register(coordinator, group["id"], NOV_17, records)
    assert first.status_code == 200, first.json
    again = _register(coordinator, group["id"], NOV_17, records)
    assert [(r["graduate_id"], r["status"]) for r in again.json] == [
        (r["graduate_id"], r["status"]) for r in first.json
    ]
    assert len(again.json) == 2

    stranger = str(uuid.uuid4())
    refused = _register(
        coordinator,
        group["id"],
        NOV_17,
        [
            {"graduate_id": str(world.graduate.id), "status": "absent"},
            {"graduate_id": stranger, "status": "present"},
        ],
    )
    assert refused.status_code == 422 and stranger in json.dumps(refused.json)
    twice = _register(coordinator, group["id"], NOV_17, [records[0], records[0]])
    assert twice.status_code == 422
    kept = coordinator.get(f"/api/v1/groups/{group['id']}/occurrences/{NOV_17}/attendance")
    assert sorted(r["status"] for r in kept.json) == ["excused", "present"]

    assert _register(coordinator, group["id"], NOV_24, records).status_code == 422  # not yet
    coordinator.put(f"/api/v1/groups/{group['id']}/occurrences/{NOV_10}", json={"cancelled": True})
    assert _register(coordinator, group["id"], NOV_10, records).status_code == 422
    bad = _register(coordinator, group["id"], NOV_17, [{**records[0], "status": "late"}])
    assert bad.status_code == 422

    replaced = _register(coordinator, group["id"], NOV_17, records[:1])
    assert [r["graduate_id"] for r in replaced.json] == [str(world.graduate.id)]


def _flags(as_user, world, persona="therapist_consent"):
    return as_user(world.email(persona)).get(f"/api/v1/flags?graduate_id={world.graduate.id}")


def test_two_missed_meetings_in_a_row_raise_a_disengaged_flag_the_coordinator_never_sees(
    world, as_user
):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user, name="Bipolar support circle")
    _join(world, as_user, group["id"])
    absent = [{"graduate_id": str(world.graduate.id), "status": "absent"}]
    first = _register(coordinator, group["id"], NOV_10, absent)
    assert _flags(as_user, world).json == []
    second = _register(coordinator, group["id"], NOV_17, absent)
    assert second.status_code == 200
    # Nothing in the reply says a flag was raised: same shape as any other register.
    assert (
        set(second.json[0])
        == set(first.json[0])
        == {
            "graduate_id",
            "display_name",
            "status",
            "recorded_at",
        }
    )
    assert coordinator.get("/api/v1/flags").status_code == 403

    [flag] = _flags(as_user, world).json
    assert flag["kind"] == "disengaged" and flag["rule"] == "group_meetings_missed_twice"
    assert flag["source"] == "mood" and flag["evidence"] == []
    assert flag["details"] == {"group_id": group["id"], "missed": ["2026-11-10", "2026-11-17"]}
    assert "Bipolar" not in json.dumps(flag) and "Nov 10" in flag["explanation"]
    assert _flags(as_user, world, "therapist_no_consent").json == []
    assert len(_flags(as_user, world, "staff").json) == 1

    # Recording the same register again raises nothing new.
    _register(coordinator, group["id"], NOV_17, absent)
    assert len(_flags(as_user, world).json) == 1


def test_an_excused_absence_breaks_the_run(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    me = str(world.graduate.id)
    _register(
        coordinator, group["id"], "2026-11-03T23:00:00Z", [{"graduate_id": me, "status": "absent"}]
    )
    _register(coordinator, group["id"], NOV_10, [{"graduate_id": me, "status": "excused"}])
    _register(coordinator, group["id"], NOV_17, [{"graduate_id": me, "status": "absent"}])
    assert _flags(as_user, world).json == []
    # Marked out of order: the earlier meeting completes the pair with the later one.
    _register(coordinator, group["id"], NOV_10, [{"graduate_id": me, "status": "absent"}])
    assert [f["rule"] for f in _flags(as_user, world).json] == ["group_meetings_missed_twice"]


def test_a_cancelled_meeting_between_two_absences_does_not_break_the_run(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    me = str(world.graduate.id)
    coordinator.put(f"/api/v1/groups/{group['id']}/occurrences/{NOV_10}", json={"cancelled": True})
    _register(
        coordinator, group["id"], "2026-11-03T23:00:00Z", [{"graduate_id": me, "status": "absent"}]
    )
    _register(coordinator, group["id"], NOV_17, [{"graduate_id": me, "status": "absent"}])
    assert len(_flags(as_user, world).json) == 1


# --- engagement and what a coordinator may never reach --------------------------------------


def test_engagement_is_counts_per_month_and_nothing_clinical(world, as_user):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    _join(world, as_user, group["id"], "other_graduate")
    me, other = str(world.graduate.id), str(world.other_graduate.id)
    _register(
        coordinator,
        group["id"],
        "2026-10-27T22:00:00Z",
        [{"graduate_id": me, "status": "present"}, {"graduate_id": other, "status": "absent"}],
    )
    _register(
        coordinator,
        group["id"],
        NOV_17,
        [{"graduate_id": me, "status": "present"}, {"graduate_id": other, "status": "present"}],
    )
    _register(coordinator, group["id"], NOV_10, [{"graduate_id": me, "status": "excused"}])
    report = coordinator.get(f"/api/v1/groups/{group['id']}/engagement?months=2")
    assert report.status_code == 200, report.json
    assert report.json["members"] == 2 and report.json["waitlisted"] == 0
    october, november = report.json["months"]
    assert october == {
        "month": "2026-10",
        "meetings": 1,
        "recorded": 2,
        "present": 1,
        "excused": 0,
        "absent": 1,
        "attendance_rate": 0.5,
        "members_active": 1,
    }
    assert november["meetings"] == 2 and november["attendance_rate"] == round(2 / 3, 3)
    assert november["members_active"] == 2
    words = json.dumps(report.json)
    for clinical in ("score", "phq", "gad", "flag", "diagnos", "medication", "answer"):
        assert clinical not in words


@pytest.mark.parametrize("query", ["include=scores", "fields=phq9", "flags=true"])
def test_a_coordinator_asking_for_clinical_fields_is_refused(world, as_user, query):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    response = coordinator.get(f"/api/v1/groups/{group['id']}/engagement?{query}")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/check-ins",
        "/trends?instrument=phq9",
        "/check-ins/due",
        "/plan",
        "/today",
        "",
    ],
)
def test_a_coordinator_never_reaches_a_clinical_route(world, as_user, path):
    response = as_user(world.email("coordinator")).get(
        f"/api/v1/graduates/{world.graduate.id}{path}"
    )
    assert response.status_code == 403


# --- announcements ---------------------------------------------------------------------------


def test_announcements_reach_seated_members_in_the_app(world, as_user, db):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user, capacity=1)
    _join(world, as_user, group["id"])
    _join(world, as_user, group["id"], "other_graduate")  # waitlisted
    path = f"/api/v1/groups/{group['id']}/announcements"
    made = [
        coordinator.post(path, json={"title": f"News {n}", "body": f"Full text {n}"})
        for n in range(3)
    ]
    assert all(r.status_code == 201 for r in made)
    listed = as_user(world.email("graduate")).get(f"{path}?page_size=2")
    assert listed.status_code == 200 and len(listed.json) == 2
    assert json.loads(listed.headers["X-Pagination"])["total"] == 3
    assert listed.json[0]["body"].startswith("Full text")
    assert as_user(world.email("other_graduate")).get(path).status_code == 422
    assert (
        as_user(world.email("graduate")).post(path, json={"title": "x", "body": "y"}).status_code
        == 403
    )

    graduate_user = db.scalar(select(Graduate.user_id).where(Graduate.id == world.graduate.id))
    assert announcement_recipients(db, announcement_id=uuid.UUID(made[0].json["id"])) == [
        graduate_user
    ]
    pushed = db.scalars(select(Notification).where(Notification.kind == "group_announcement")).all()
    assert {n.user_id for n in pushed} == {graduate_user}  # seated members only
    assert len(pushed) == 3
    assert all("News" not in n.title + n.body and "Full text" not in n.body for n in pushed)


# --- calendar feeds --------------------------------------------------------------------------


def _path(url: str) -> str:
    return url.split("localhost", 1)[1]


def _events(client, path) -> list:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    return list(icalendar.Calendar.from_ical(response.data).walk("VEVENT"))


def test_a_graduates_group_feed_is_generic_and_shows_the_place_only_if_asked(
    world, as_user, client
):
    coordinator = as_user(world.email("coordinator"))
    graduate = as_user(world.email("graduate"))
    group = _create(world, as_user, name="PTSD peer circle")
    _join(world, as_user, group["id"])
    coordinator.put(f"/api/v1/groups/{group['id']}/occurrences/{NOV_24}", json={"cancelled": True})
    base = f"/api/v1/graduates/{world.graduate.id}/group-calendar-feed"
    created = graduate.post(base, json={"show_place": False})
    assert created.status_code == 201
    events = _events(client, _path(created.json["url"]))
    # 30 days back to 180 days ahead of Nov 23: Oct 27 ... May 18.
    assert len(events) == 30
    assert {str(e["SUMMARY"]) for e in events} == {"Group meeting"}
    assert all("LOCATION" not in e for e in events)
    starts = {e["DTSTART"].dt.isoformat(): e for e in events}
    assert "2026-10-27T18:00:00-04:00" in starts and "2026-11-03T18:00:00-05:00" in starts
    assert "2027-03-16T18:00:00-04:00" in starts
    assert str(starts["2026-11-24T18:00:00-05:00"]["STATUS"]) == "CANCELLED"
    assert "PTSD" not in client.get(_path(created.json["url"])).data.decode()

    shown = graduate.post(base, json={"show_place": True})
    assert client.get(_path(created.json["url"])).status_code == 404  # replaced
    assert str(_events(client, _path(shown.json["url"]))[0]["LOCATION"]) == "Riverbend, room 2"

    graduate.delete(f"/api/v1/groups/{group['id']}/membership")
    assert _events(client, _path(shown.json["url"])) == []
    assert graduate.delete(base).status_code == 204
    assert client.get(_path(shown.json["url"])).status_code == 404


def test_a_group_feed_for_its_coordinator_and_its_members(world, as_user, client):
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    path = f"/api/v1/groups/{group['id']}/calendar-feed"
    mine = coordinator.post(path, json={"show_place": True})
    assert mine.status_code == 201
    events = _events(client, _path(mine.json["url"]))
    assert str(events[0]["SUMMARY"]) == "Tuesday aftercare"
    assert as_user(world.email("graduate")).post(path, json={}).status_code == 403
    _join(world, as_user, group["id"])
    theirs = as_user(world.email("graduate")).post(path, json={})
    assert theirs.status_code == 201
    assert str(_events(client, _path(theirs.json["url"]))[0]["SUMMARY"]) == "Group meeting"
    as_user(world.email("graduate")).delete(f"/api/v1/groups/{group['id']}/membership")
    assert client.get(_path(theirs.json["url"])).status_code == 404
    coordinator.post(f"/api/v1/groups/{group['id']}/archive")
    assert _events(client, _path(mine.json["url"])) == []


def test_graduates_of_another_program_cannot_find_the_group(world, as_user, db):
    outsider_email = factories.unique_email("outsider")
    factories.graduate(db, world.other_program, email=outsider_email)
    db.commit()
    group = _create(world, as_user)
    outsider = as_user(outsider_email)
    assert outsider.get(f"/api/v1/groups/{group['id']}").status_code == 404
    assert outsider.post(f"/api/v1/groups/{group['id']}/membership", json={}).status_code == 404
    assert outsider.get(_programs(world)).status_code == 404


def test_missing_meetings_during_an_open_watch_asks_for_a_step_up_review(world, as_user, db, clock):
    db.add(
        Flag(
            graduate_id=world.graduate.id,
            program_id=world.program.id,
            kind="watch",
            source="mood",
            status="open",
            rule="phq9_rise",
            rules_version="test",
            explanation="PHQ-9 rose.",
            evidence=[],
            details={},
            raised_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    db.commit()
    coordinator = as_user(world.email("coordinator"))
    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    absent = [{"graduate_id": str(world.graduate.id), "status": "absent"}]
    _register(coordinator, group["id"], NOV_10, absent)
    _register(coordinator, group["id"], NOV_17, absent)
    kinds = {(f["kind"], f["rule"]) for f in _flags(as_user, world).json}
    assert ("step_up", "disengaged_during_watch") in kinds


def test_a_weekly_summary_counts_group_attendance_without_naming_the_group(
    world, as_user, clock, app
):
    from jobs.scheduler import run_job

    group = _create(world, as_user)
    _join(world, as_user, group["id"])
    clock.advance(days=2)  # the Nov 24 meeting has happened
    records = [{"graduate_id": str(world.graduate.id), "status": "present"}]
    assert (
        _register(as_user(world.email("coordinator")), group["id"], NOV_24, records).status_code
        == 200
    )
    clock.set(clock.now().replace(day=30, hour=15))  # Monday, after the summaries' slot
    assert run_job(app, "summaries.weekly") >= 1
    therapist = as_user(world.email("therapist_consent"))
    [summary] = therapist.get(
        "/api/v1/summaries", query_string={"graduate_id": str(world.graduate.id)}
    ).json
    full = therapist.get(f"/api/v1/summaries/{summary['id']}").json
    assert full["content"]["group_attendance"] == {"present": 1, "absent": 0, "excused": 0}
    assert GROUP["name"] not in str(full)
