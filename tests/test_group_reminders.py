"""Group-meeting reminders on a frozen clock: two hours before each meeting of a group the
graduate holds a seat in, in the group's zone, within the graduate's own preferences, and
gone at once when the meeting is cancelled, moved, declined or the seat given up."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from api.notifications.models import Notification
from api.notifications.texts import TEXTS
from api.reminders import planner

# Tuesdays 18:00 in New York; the graduate lives in Chicago (an hour behind).
GROUP = {
    "name": "Tuesday aftercare",
    "kind": "aftercare",
    "mode": "in_person",
    "location": "Riverbend, room 2",
    "capacity": 1,
    "description": "Skills practice",
    "facilitator": "Jo Park, LCSW",
    "timezone": "America/New_York",
    "starts_at_local": "2026-10-27T18:00:00",
    "duration_minutes": 90,
    "rrule": "FREQ=WEEKLY;BYDAY=TU",
}
NOV_24 = "2026-11-24T23:00:00Z"  # tomorrow's meeting, as the clock (Mon Nov 23 15:00Z) stands
TWO_DAYS = timedelta(days=2)


def _group(world, as_user, **changes) -> str:
    response = as_user(world.email("coordinator")).post(
        f"/api/v1/programs/{world.program.id}/groups", json={**GROUP, **changes}
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def _join(world, as_user, group_id: str, persona: str = "graduate") -> str:
    response = as_user(world.email(persona)).post(
        f"/api/v1/groups/{group_id}/membership", json={"share_name": False}
    )
    assert response.status_code == 201, response.json
    return response.json["status"]


def _plan(db, clock, horizon: timedelta = TWO_DAYS) -> int:
    inserted = planner.plan(db, now=clock.now(), horizon=horizon)
    db.commit()
    return inserted


def _reminders(db, graduate) -> list[str]:
    """Due times (UTC) of the graduate's pending group-meeting reminders."""
    db.expire_all()
    rows = db.scalars(
        select(Notification)
        .where(
            Notification.graduate_id == graduate.id,
            Notification.kind == "group_meeting",
            Notification.status == "pending",
        )
        .order_by(Notification.due_at)
    )
    return [f"{row.due_at:%Y-%m-%dT%H:%MZ}" for row in rows]


def test_a_seated_member_hears_two_hours_before_and_the_waitlist_does_not(
    world, as_user, db, clock
):
    group_id = _group(world, as_user)
    assert _join(world, as_user, group_id) == "member"
    assert _join(world, as_user, group_id, "other_graduate") == "waitlisted"
    _plan(db, clock)
    assert _reminders(db, world.graduate) == ["2026-11-24T21:00Z"]  # 15:00 in Chicago
    assert _reminders(db, world.other_graduate) == []
    assert _plan(db, clock) == 0

    [row] = db.scalars(select(Notification).where(Notification.kind == "group_meeting"))
    assert (row.title, row.body) == TEXTS["group_meeting"]
    assert "aftercare" not in f"{row.title} {row.body} {row.subject}".lower()
    assert row.expires_at == datetime.fromisoformat("2026-11-24T23:00:00+00:00")


def test_declining_drops_the_reminder_and_saying_yes_again_brings_it_back(
    world, as_user, db, clock
):
    group_id = _group(world, as_user)
    _join(world, as_user, group_id)
    _plan(db, clock)
    rsvp = f"/api/v1/groups/{group_id}/occurrences/{NOV_24}/rsvp"
    graduate = as_user(world.email("graduate"))
    assert graduate.put(rsvp, json={"response": "no"}).status_code == 200
    assert _reminders(db, world.graduate) == []
    _plan(db, clock)
    assert _reminders(db, world.graduate) == []
    assert graduate.put(rsvp, json={"response": "yes"}).status_code == 200
    _plan(db, clock)
    assert _reminders(db, world.graduate) == ["2026-11-24T21:00Z"]


def test_a_cancelled_meeting_is_not_reminded_and_a_moved_one_at_its_new_time(
    world, as_user, db, clock
):
    group_id = _group(world, as_user)
    _join(world, as_user, group_id)
    _plan(db, clock, horizon=timedelta(days=10))
    assert _reminders(db, world.graduate) == ["2026-11-24T21:00Z", "2026-12-01T21:00Z"]
    coordinator = as_user(world.email("coordinator"))
    base = f"/api/v1/groups/{group_id}/occurrences"
    assert coordinator.put(f"{base}/{NOV_24}", json={"cancelled": True}).status_code == 200
    moved = coordinator.put(
        f"{base}/2026-12-01T23:00:00Z",
        json={"cancelled": False, "starts_at_local": "2026-12-02T19:00:00"},
    )
    assert moved.status_code == 200, moved.json
    assert _reminders(db, world.graduate) == []  # dropped at once, before the next run
    _plan(db, clock, horizon=timedelta(days=10))
    assert _reminders(db, world.graduate) == ["2026-12-02T22:00Z"]  # 19:00 NY less 2 h


def test_leaving_the_group_drops_its_reminders(world, as_user, db, clock):
    group_id = _group(world, as_user)
    _join(world, as_user, group_id)
    _plan(db, clock)
    assert _reminders(db, world.graduate) == ["2026-11-24T21:00Z"]
    left = as_user(world.email("graduate")).delete(f"/api/v1/groups/{group_id}/membership")
    assert left.status_code == 204
    assert _reminders(db, world.graduate) == []
    assert _plan(db, clock) == 0


def test_both_dst_changes_keep_the_meeting_s_wall_clock(world, as_user, db, clock):
    group_id = _group(world, as_user, rrule="FREQ=WEEKLY;BYDAY=TU;UNTIL=20270401T000000")
    _join(world, as_user, group_id)
    clock.set(datetime.fromisoformat("2026-10-26T14:00:00+00:00"))
    _plan(db, clock, horizon=timedelta(days=9))
    clock.set(datetime.fromisoformat("2027-03-08T14:00:00+00:00"))
    _plan(db, clock, horizon=timedelta(days=9))
    assert _reminders(db, world.graduate) == [
        "2026-10-27T20:00Z",  # 16:00 EDT
        "2026-11-03T21:00Z",  # 16:00 EST, after Nov 1
        "2027-03-09T21:00Z",  # EST
        "2027-03-16T20:00Z",  # EDT again after Mar 14
    ]


def test_quiet_hours_and_the_group_switch_are_the_graduate_s(world, as_user, db, clock):
    # 09:30 New York is 08:30 in Chicago: two hours before is 06:30, inside quiet hours,
    # so the reminder waits for their end, and lapses when the meeting starts.
    group_id = _group(world, as_user, starts_at_local="2026-10-27T09:30:00")
    _join(world, as_user, group_id)
    _plan(db, clock)
    assert _reminders(db, world.graduate) == ["2026-11-24T14:00Z"]  # 08:00 Chicago
    [row] = db.scalars(select(Notification).where(Notification.kind == "group_meeting"))
    assert row.expires_at == datetime.fromisoformat("2026-11-24T14:30:00+00:00")
    path = f"/api/v1/graduates/{world.graduate.id}/reminder-preferences"
    graduate = as_user(world.email("graduate"))
    current = graduate.get(path).json
    for read_only in ("timezone", "paused_until", "snoozes"):
        current.pop(read_only)
    prefs = graduate.put(path, json={**current, "kinds": {**current["kinds"], "group": False}})
    assert prefs.status_code == 200, prefs.json
    _plan(db, clock)
    assert _reminders(db, world.graduate) == []
