"""Access-matrix rows for the group routes (joined into test_access_matrix.EXPECTED).

The graduate is a seated member of the group (sharing their name); the other graduate is a
graduate of the same program who is not in it; other_staff stands for another program.
Therapists have no part in groups; coordinators never reach a clinical route (those rows
live with the clinical routes and say 403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.groups.models import Group, GroupAnnouncement, GroupCalendarFeed, GroupMember
from api.plans.calendar import hash_token
from tests.personas import PERSONAS, row

GR = "/api/v1/groups/{group_id}"
MEETING = f"{GR}/occurrences/{{start}}"
PAST = "2026-11-17T23:00:00Z"
TO_COME = "2026-11-24T23:00:00Z"
FEED_TOKEN = "matrix-group-feed-token"


def runners(status: int) -> dict[str, int]:
    """The program's coordinators and staff; a graduate is refused, another program 404."""
    return row(403, coordinator=status, staff=status, other_staff=404)


def browsers(status: int = 200) -> dict[str, int]:
    """Coordinators, staff and every graduate of the program."""
    return {**runners(status), "graduate": status, "other_graduate": status}


def members(status: int, outsider: int = 403) -> dict[str, int]:
    """The group's seated members; a graduate of the program outside the group gets `outsider`."""
    return row(403, graduate=status, other_graduate=outsider)


GROUP_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/v1/programs/{program_id}/groups"): browsers(),
    ("POST", "/api/v1/programs/{program_id}/groups"): runners(201),
    ("GET", GR): browsers(),
    ("PATCH", GR): runners(200),
    ("POST", f"{GR}/archive"): runners(200),
    ("GET", f"{GR}/coordinators"): runners(200),
    ("PUT", f"{GR}/coordinators"): row(403, staff=200, other_staff=404),
    ("GET", f"{GR}/occurrences"): browsers(),
    ("PUT", MEETING): runners(200),
    ("PUT", f"{MEETING}/rsvp"): members(200),
    ("GET", f"{MEETING}/attendance"): runners(200),
    ("PUT", f"{MEETING}/attendance"): runners(200),
    ("POST", f"{GR}/membership"): members(409, outsider=201),  # the member is in already
    ("PATCH", f"{GR}/membership"): members(200, outsider=404),
    ("DELETE", f"{GR}/membership"): members(204, outsider=404),
    ("GET", f"{GR}/members"): runners(200),
    ("GET", f"{GR}/peers"): members(200),
    ("GET", f"{GR}/announcements"): {**runners(200), "graduate": 200},
    ("POST", f"{GR}/announcements"): runners(201),
    ("GET", f"{GR}/engagement"): runners(200),
    ("POST", f"{GR}/calendar-feed"): {**runners(201), "graduate": 201},
    ("DELETE", f"{GR}/calendar-feed"): browsers(204),
    ("POST", "/api/v1/graduates/{graduate_id}/group-calendar-feed"): row(
        403, graduate=201, other_graduate=404
    ),
    ("DELETE", "/api/v1/graduates/{graduate_id}/group-calendar-feed"): row(
        403, graduate=204, other_graduate=404
    ),
    ("GET", "/api/v1/group-calendar/{token}.ics"): dict.fromkeys(PERSONAS, 200),
}

GROUP_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/programs/{program_id}/groups"): {
        "name": "Monthly alumni evening",
        "kind": "alumni",
        "mode": "video",
        "video_url": "https://video.example.org/alumni",
        "capacity": 30,
        "facilitator": "Jo Park",
        "timezone": "America/Chicago",
        "starts_at_local": "2026-12-03T19:00:00",
        "duration_minutes": 60,
        "rrule": "FREQ=MONTHLY;BYDAY=1TH",
    },
    ("PATCH", GR): {"capacity": 12},
    ("PUT", f"{GR}/coordinators"): {"emails": []},
    ("PUT", MEETING): {"cancelled": True},
    ("PUT", f"{MEETING}/attendance"): {"records": []},
    ("PUT", f"{MEETING}/rsvp"): {"response": "yes"},
    ("POST", f"{GR}/membership"): {"share_name": False},
    ("PATCH", f"{GR}/membership"): {"share_name": False},
    ("POST", f"{GR}/announcements"): {"title": "Room change", "body": "We meet in room 3."},
    ("POST", f"{GR}/calendar-feed"): {"show_place": False},
    ("POST", "/api/v1/graduates/{graduate_id}/group-calendar-feed"): {"show_place": False},
}
GROUP_QUERIES = {
    ("GET", f"{GR}/occurrences"): "?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
}
# An RSVP needs a meeting still to come; the rest use one that has happened.
GROUP_PATH_VALUES: dict[tuple[str, str], dict[str, str]] = {
    ("PUT", f"{MEETING}/rsvp"): {"start": TO_COME},
    ("GET", "/api/v1/group-calendar/{token}.ics"): {"token": FEED_TOKEN},
}


def group_values(world, db, now: datetime) -> dict[str, Any]:
    """A weekly Tuesday group of the program with the graduate seated in it, one
    announcement, and a live feed token of the group."""
    group = Group(
        program_id=world.program.id,
        name="Tuesday aftercare",
        kind="aftercare",
        mode="in_person",
        location="Riverbend, room 2",
        video_url=None,
        capacity=8,
        description="",
        facilitator="Jo Park",
        timezone="America/New_York",
        starts_at=datetime.fromisoformat("2026-10-27T22:00:00+00:00"),
        duration_minutes=90,
        rrule="FREQ=WEEKLY;BYDAY=TU",
        created_at=now,
        updated_at=now,
    )
    db.add(group)
    db.flush()
    db.add_all(
        [
            GroupMember(
                group_id=group.id,
                graduate_id=world.graduate.id,
                status="member",
                seat=1,
                share_name=True,
                joined_at=now,
            ),
            GroupAnnouncement(
                group_id=group.id,
                title="Welcome",
                body="Tea from 5:45.",
                author_user_id=world.coordinator.user_id,
                created_at=now,
            ),
            GroupCalendarFeed(
                user_id=world.coordinator.user_id,
                group_id=group.id,
                token_hash=hash_token(FEED_TOKEN),
                show_place=False,
                created_at=now,
            ),
        ]
    )
    db.flush()
    return {"group_id": group.id, "start": PAST}
