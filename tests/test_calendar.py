"""The graduate's iCalendar feed: secret, revocable, and free of clinical words."""

from __future__ import annotations

import icalendar
from sqlalchemy import func, select

from api.groups.models import GroupCalendarFeed
from api.privacy import service as privacy
from tests import factories
from tests.matrix_plans import APPOINTMENT


def _feed(world, as_user, show_place: bool):
    graduate = as_user(world.email("graduate"))
    therapist = as_user(world.email("therapist_no_consent"))
    base = f"/api/v1/graduates/{world.graduate.id}"
    therapist.post(f"{base}/plan/appointments", json=APPOINTMENT)
    created = graduate.post(f"{base}/calendar-feed", json={"show_place": show_place})
    assert created.status_code == 201, created.json
    return graduate, base, created.json["url"].split("localhost", 1)[1]


def test_the_feed_says_appointment_and_nothing_clinical(world, as_user, client):
    _, _, path = _feed(world, as_user, show_place=False)
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    [event] = list(calendar.walk("VEVENT"))
    assert str(event["SUMMARY"]) == "Appointment"
    assert "LOCATION" not in event
    assert event["DTSTART"].dt.isoformat() == "2026-12-01T17:00:00-06:00"
    assert "FREQ" in event["RRULE"]
    text = response.data.decode()
    for word in ("therapy", "Dr. Lee", "Suite 4", "IOP"):
        assert word not in text


def test_the_place_appears_only_when_the_graduate_opts_in(world, as_user, client):
    _, _, path = _feed(world, as_user, show_place=True)
    [event] = list(icalendar.Calendar.from_ical(client.get(path).data).walk("VEVENT"))
    assert str(event["LOCATION"]) == "Suite 4, 100 Main St"


def test_revoking_or_replacing_the_feed_turns_the_old_address_off(world, as_user, client):
    graduate, base, path = _feed(world, as_user, show_place=False)
    replacement = graduate.post(f"{base}/calendar-feed", json={}).json["url"]
    assert client.get(path).status_code == 404
    new_path = replacement.split("localhost", 1)[1]
    assert client.get(new_path).status_code == 200
    assert graduate.delete(f"{base}/calendar-feed").status_code == 204
    gone = client.get(new_path)
    assert gone.status_code == 404 and gone.json["code"] == 404


# --- every feed of a person ends with their sign-in, their enrolment or their record -----

GROUP = {
    "name": "Tuesday aftercare",
    "kind": "aftercare",
    "mode": "in_person",
    "location": "Riverbend, room 2",
    "capacity": 8,
    "description": "Skills practice",
    "facilitator": "Jo Park",
    "timezone": "America/New_York",
    "starts_at_local": "2026-10-27T18:00:00",
    "duration_minutes": 90,
    "rrule": "FREQ=WEEKLY;BYDAY=TU",
}


def _path(response) -> str:
    assert response.status_code == 201, response.json
    return response.json["url"].split("localhost", 1)[1]


def _every_feed(world, as_user) -> tuple[dict[str, str], str]:
    """The graduate's three kinds of feed (appointments, their groups, one group), and the
    coordinator's feed of that group."""
    _, base, appointments = _feed(world, as_user, show_place=False)
    coordinator = as_user(world.email("coordinator"))
    group = coordinator.post(f"/api/v1/programs/{world.program.id}/groups", json=GROUP)
    assert group.status_code == 201, group.json
    one_group = f"/api/v1/groups/{group.json['id']}/calendar-feed"
    graduate = as_user(world.email("graduate"))
    assert (
        graduate.post(f"/api/v1/groups/{group.json['id']}/membership", json={}).status_code == 201
    )
    feeds = {
        "appointments": appointments,
        "my groups": _path(graduate.post(f"{base}/group-calendar-feed", json={})),
        "one group": _path(graduate.post(one_group, json={})),
    }
    return feeds, _path(coordinator.post(one_group, json={}))


def _answers(client, feeds: dict[str, str]) -> dict[str, int]:
    return {name: client.get(path).status_code for name, path in feeds.items()}


def test_sign_out_everywhere_turns_off_every_feed_of_the_person(world, as_user, client):
    feeds, coordinators = _every_feed(world, as_user)
    assert _answers(client, feeds) == dict.fromkeys(feeds, 200)
    signed_out = as_user(world.email("graduate")).post("/api/v1/me/sign-out-everywhere")
    assert signed_out.status_code == 204
    assert _answers(client, feeds) == dict.fromkeys(feeds, 404)
    assert client.get(coordinators).status_code == 200  # someone else's feed is theirs


def test_re_enrolment_turns_off_the_feeds_of_the_previous_login(world, as_user, client):
    feeds, coordinators = _every_feed(world, as_user)
    staff = as_user(world.email("staff"))
    code = staff.post(f"/api/v1/graduates/{world.graduate.id}/enrollment-code")
    assert code.status_code == 201, code.json
    newcomer = as_user(factories.unique_email("new-phone"))
    linked = newcomer.post("/api/v1/enrollments", json={"code": code.json["enrollment_code"]})
    assert linked.status_code == 200, linked.json
    assert _answers(client, feeds) == dict.fromkeys(feeds, 404)
    assert client.get(coordinators).status_code == 200


def test_erasure_removes_every_feed_of_the_person(world, as_user, client, clock, db):
    feeds, coordinators = _every_feed(world, as_user)
    assert as_user(world.email("graduate")).post("/api/v1/me/deletion").status_code == 202
    clock.advance(days=31)
    assert privacy.erase_due(session=db, now=clock.now()) == 1
    assert _answers(client, feeds) == dict.fromkeys(feeds, 404)
    assert client.get(coordinators).status_code == 200
    left = select(func.count()).where(GroupCalendarFeed.user_id == world.graduate.user_id)
    assert db.scalar(left) == 0


def test_the_export_lists_every_feed_of_the_person(world, as_user, db):
    _every_feed(world, as_user)
    records = as_user(world.email("graduate")).get("/api/v1/me/export").json["records"]
    assert len(records["calendar_feeds"]) == 1
    group_feeds = records["group_calendar_feeds"]
    assert len(group_feeds) == 2
    assert {feed["graduate_id"] is None for feed in group_feeds} == {True, False}
    assert all("token_hash" not in feed for feed in group_feeds)
