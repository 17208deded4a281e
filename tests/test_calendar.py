"""The graduate's iCalendar feed: secret, revocable, and free of clinical words."""

from __future__ import annotations

import icalendar

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
