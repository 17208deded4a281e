"""The console for coordinators and program staff, server side: groups in their own time,
a register by name, enrolment with the code shown once, flag rules as versions, the audit
log and its CSV; every console URL answers each role as the API answers for the same data."""

from __future__ import annotations

import csv
import io
import re
import uuid

from sqlalchemy import select

from api.flags.models import FlagRuleVersion
from api.graduates.models import Graduate
from api.groups.models import GroupAnnouncement, GroupAttendance, GroupOccurrenceChange
from tests.test_console import post_form, sign_in
from tests.test_groups import GROUP, _join

CHICAGO = {**GROUP, "timezone": "America/Chicago", "starts_at_local": "2026-11-03T18:00:00"}
NOV_10 = "2026-11-11T00:00:00Z"  # Tuesday 10 Nov, 18:00 in Chicago
NOV_24 = "2026-11-25T00:00:00Z"  # still to come as the clock stands


def _group(world, as_user, **changes) -> str:
    made = as_user(world.email("coordinator")).post(
        f"/api/v1/programs/{world.program.id}/groups", json={**CHICAGO, **changes}
    )
    assert made.status_code == 201, made.json
    return made.json["id"]


def _nav(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    return [
        re.sub(r"<[^>]+>|\s+unread", "", name).strip()
        for name in re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)
    ]


def test_each_role_gets_its_own_nav_and_a_coordinator_no_clinical_link(client, world, as_user):
    group_id = _group(world, as_user)
    signed = sign_in(client, world.coordinator.email)
    assert client.get(signed.headers["Location"]).headers["Location"] == "/console/groups"
    page = client.get("/console/groups").get_data(as_text=True)
    assert _nav(page) == ["Groups"]
    assert "Tuesday aftercare" in page
    html = client.get(f"/console/groups/{group_id}").get_data(as_text=True)
    for word in ("Caseload", "Flags", "Summaries", "PHQ", "GAD", "flag", "score"):
        assert word.lower() not in re.sub(r"<[^>]+>", " ", html).lower(), word

    staff = client.application.test_client()
    sign_in(staff, world.staff.email)
    assert _nav(staff.get("/console/groups").get_data(as_text=True)) == [
        "Caseload",
        "Flags",
        "Summaries",
        "Groups",
        "Graduates",
        "Flag rules",
        "Audit log",
        "Inbox",
    ]
    therapist = client.application.test_client()
    sign_in(therapist, world.therapist_consent.email)
    assert _nav(therapist.get("/console/caseload").get_data(as_text=True)) == [
        "Caseload",
        "Flags",
        "Summaries",
        "Inbox",
    ]


def test_a_coordinator_sees_meetings_in_the_groups_time_and_a_month_calendar(
    client, world, as_user
):
    group_id = _group(world, as_user)
    sign_in(client, world.coordinator.email)
    html = client.get(f"/console/groups/{group_id}?month=2026-11").get_data(as_text=True)
    assert "November 2026" in html and "America/Chicago" in html
    assert f"/console/groups/{group_id}/meetings/{NOV_10}" in html
    assert "Tue 10 Nov 2026, 18:00" in html and "Wed 11 Nov" not in html
    assert html.count(">18:00<") == 5  # Nov 3, 10, 17, 24, and Dec 1 in the last row
    meeting = client.get(f"/console/groups/{group_id}/meetings/{NOV_10}").get_data(as_text=True)
    assert "<h1>Tue 10 Nov 2026, 18:00</h1>" in meeting


def test_attendance_by_name_in_one_pass_and_a_past_register_fixed(client, world, as_user, db):
    group_id = _group(world, as_user)
    _join(world, as_user, group_id)
    _join(world, as_user, group_id, "other_graduate")
    sign_in(client, world.coordinator.email)
    url = f"/console/groups/{group_id}/meetings/{NOV_10}"
    page = client.get(url).get_data(as_text=True)
    assert f"<legend>{world.graduate.display_name}</legend>" in page
    saved = post_form(
        client,
        url,
        f"{url}/attendance",
        **{
            f"status-{world.graduate.id}": "present",
            f"status-{world.other_graduate.id}": "excused",
        },
    )
    assert saved.status_code == 303
    fixed = post_form(
        client,
        url,
        f"{url}/attendance",
        **{f"status-{world.graduate.id}": "absent", f"status-{world.other_graduate.id}": "excused"},
    )
    assert fixed.status_code == 303
    rows = dict(
        db.execute(
            select(GroupAttendance.graduate_id, GroupAttendance.status).where(
                GroupAttendance.group_id == uuid.UUID(group_id)
            )
        ).all()
    )
    assert rows == {world.graduate.id: "absent", world.other_graduate.id: "excused"}
    again = client.get(url).get_data(as_text=True)
    assert re.search(rf'name="status-{world.graduate.id}" value="absent" checked', again)
    bad = post_form(client, url, f"{url}/attendance", **{f"status-{world.graduate.id}": "late"})
    assert bad.status_code == 422
    future = f"/console/groups/{group_id}/meetings/{NOV_24}"
    assert "The register opens when the meeting starts." in client.get(future).get_data(True)


def test_move_cancel_and_announce(client, world, as_user, db):
    group_id = _group(world, as_user)
    sign_in(client, world.coordinator.email)
    url = f"/console/groups/{group_id}/meetings/{NOV_24}"
    moved = post_form(
        client, url, url, change="move", date="2026-11-25", time="19:30", note="Room 4"
    )
    assert moved.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "<h1>Wed 25 Nov 2026, 19:30</h1>" in page and "Moved from Tue 24 Nov" in page
    cancelled = post_form(client, url, url, change="cancel", note="Holiday")
    assert cancelled.status_code == 303
    change = db.scalar(
        select(GroupOccurrenceChange).where(GroupOccurrenceChange.group_id == uuid.UUID(group_id))
    )
    assert change.cancelled and change.note == "Holiday"
    bad = post_form(client, url, url, change="move", date="someday", time="19:30")
    assert bad.status_code == 422

    group_url = f"/console/groups/{group_id}"
    posted = post_form(
        client, group_url, f"{group_url}/announcements", title="Room change", body="Room 4 now."
    )
    assert posted.status_code == 303
    assert db.scalar(select(GroupAnnouncement.title)) == "Room change"
    assert "Room 4 now." in client.get(group_url).get_data(as_text=True)
    assert (
        post_form(client, group_url, f"{group_url}/announcements", title="", body="").status_code
        == 422
    )


def test_staff_enrol_a_graduate_and_see_the_code_with_a_handout(client, world, db):
    sign_in(client, world.staff.email)
    form = {
        "display_name": "Robin",
        "graduation_date": "2026-11-20",
        "timezone": "America/Chicago",
        "phq9": "8",
        "gad7": "6",
        "substance_use": "yes",
        "therapist_email": world.therapist_consent.email,
    }
    shown = post_form(client, "/console/program/graduates", "/console/program/graduates", **form)
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    code = re.search(r'<p class="code"[^>]*>([0-9A-Z-]{14})</p>', html).group(1)
    assert "988" in html and "Continuing-care companion" in html
    robin = db.scalar(select(Graduate).where(Graduate.display_name == "Robin"))
    assert robin.baseline_phq9 == 8 and robin.substance_use
    # Same validation as the API: a graduation date too far ahead is refused, nothing written.
    late = post_form(
        client,
        "/console/program/graduates",
        "/console/program/graduates",
        **{**form, "display_name": "Later", "graduation_date": "2030-01-01"},
    )
    assert late.status_code == 422
    assert db.scalar(select(Graduate).where(Graduate.display_name == "Later")) is None
    again = post_form(
        client,
        "/console/program/graduates",
        f"/console/program/graduates/{robin.id}/enrollment-code",
    )
    assert again.status_code == 200
    new_code = re.search(r'<p class="code"[^>]*>([0-9A-Z-]{14})</p>', again.get_data(True)).group(1)
    assert new_code != code


def test_a_flag_rule_edit_is_a_new_version(client, world, db):
    sign_in(client, world.staff.email)
    page = client.get("/console/program/flag-rules").get_data(as_text=True)
    assert "version 0" in page
    fields = dict(re.findall(r'name="([a-z_0-9-]+)" type="number" value="(\d+)"', page))
    saved = post_form(
        client,
        "/console/program/flag-rules",
        "/console/program/flag-rules",
        **{**fields, "cooldown_days": "10", "on_call_emails": world.staff.email},
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    [version] = db.scalars(select(FlagRuleVersion)).all()
    assert version.number == 1 and version.settings["cooldown_days"] == 10
    after = client.get("/console/program/flag-rules").get_data(as_text=True)
    assert "Saved as version 1" not in after and "version 1 (program-v1)" in after
    refused = post_form(
        client,
        "/console/program/flag-rules",
        "/console/program/flag-rules",
        **{**fields, "on_call_emails": world.therapist_consent.email},
    )
    assert refused.status_code == 422
    assert len(db.scalars(select(FlagRuleVersion)).all()) == 1


def test_the_audit_log_filters_and_exports_csv(client, world, as_user, db):
    as_user(world.email("therapist_consent")).get(f"/api/v1/graduates/{world.graduate.id}")
    as_user(world.email("therapist_no_consent")).get(
        f"/api/v1/graduates/{world.graduate.id}/check-ins"
    )
    sign_in(client, world.staff.email)
    everything = client.get("/console/program/audit").get_data(as_text=True)
    assert world.therapist_consent.email in everything
    mine = client.get(
        "/console/program/audit",
        query_string={
            "person": world.therapist_no_consent.email,
            "graduate": str(world.graduate.id),
        },
    ).get_data(as_text=True)
    assert world.therapist_no_consent.email in mine and world.therapist_consent.email not in mine
    assert "denied" in mine
    exported = client.get(
        "/console/program/audit.csv",
        query_string={
            "person": world.therapist_no_consent.email,
            "from": "2026-01-01",
            "to": "2030-01-01",
        },
    )
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert rows and {row["person"] for row in rows} == {world.therapist_no_consent.email}
    assert rows[0]["graduate"] == world.graduate.display_name
    none = client.get("/console/program/audit.csv", query_string={"to": "2000-01-01"})
    assert len(none.get_data(as_text=True).splitlines()) == 1
    assert client.get("/console/program/audit?from=yesterday").status_code == 422
