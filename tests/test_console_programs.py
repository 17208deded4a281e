"""The console for coordinators and program staff, server side: groups in their own time,
a register by name, enrolment with the code shown once, flag rules as versions, the audit
log and its CSV; every console URL answers each role as the API answers for the same data."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api.audit.models import AuditEvent
from api.flags.models import FlagRuleVersion
from api.graduates.models import Graduate
from api.groups.models import (
    Group,
    GroupAnnouncement,
    GroupAttendance,
    GroupMember,
    GroupOccurrenceChange,
)
from api.programs.models import Role
from tests import factories
from tests.test_console import counted, post_form, sign_in
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
        "Program",
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
    code = re.search(r'<p class="code">([0-9A-Z-]{14})</p>', html).group(1)
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
    new_code = re.search(r'<p class="code">([0-9A-Z-]{14})</p>', again.get_data(True)).group(1)
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


# --- one authorization path: every console URL answers each role as the API does -------------


def _console(app, email):
    """A browser signed in as `email` (anonymous: none), with the session's CSRF token."""
    from api.console import sessions

    browser = app.test_client()
    if email is None:
        return browser, ""
    sign_in(browser, email)
    cookie = browser.get_cookie("console_session", path="/console")
    return browser, sessions.csrf_token(cookie.value)


def _outcome(status: int, location: str = "") -> str:
    """A class of answer: the console's redirect to sign-in is the API's 401."""
    if status == 401 or location.startswith("/console/sign-in"):
        return "sign in"
    if 200 <= status < 300 or status == 303:
        return "ok"
    return str(status)


def _care_team_entry(db, world) -> uuid.UUID:
    from api.graduates.models import CareTeamMember

    entry = CareTeamMember(
        graduate_id=world.graduate.id,
        membership_id=factories.member(db, world.program, Role.THERAPIST).id,
        created_at=factories.NOW,
    )
    db.add(entry)
    db.commit()
    return entry.id


def test_every_console_url_answers_each_role_as_the_api_does(app, world, as_user, db, clock):
    from api.flags.rules import DEFAULT_RULES

    group_id = _group(world, as_user)
    _join(world, as_user, group_id)
    defaults = DEFAULT_RULES.settings()
    rules_form = {
        "rise-phq9": defaults["rise"]["phq9"],
        "rise-gad7": defaults["rise"]["gad7"],
        "severe-phq9": defaults["severe_at"]["phq9"],
        "severe-gad7": defaults["severe_at"]["gad7"],
        **{k: defaults[k] for k in ("moderate_at", "cooldown_days")},
        **{k: defaults[k] for k in ("escalate_urgent_minutes", "escalate_step_up_hours")},
    }
    enrol_form = {
        "display_name": "Walker",
        "graduation_date": "2026-11-20",
        "timezone": "America/Chicago",
        "phq9": "5",
        "gad7": "5",
    }
    enrol_body = {
        "display_name": "Walker",
        "graduation_date": "2026-11-20",
        "timezone": "America/Chicago",
        "substance_use": False,
        "baseline": {"phq9": 5, "gad7": 5},
    }
    settings_form = {
        "phone": "+1 555 0100",
        "line-name-0": "988 Lifeline",
        "line-phone-0": "988",
        "hours-start": "08:00",
        "hours-end": "18:00",
        "hours-days": "mon",
    }
    retention = {
        "deletion_grace_days": "30",
        "inbox_retention_days": "180",
        "clinical_retention_years": "7",
    }
    grp, meeting = f"/groups/{group_id}", f"/groups/{group_id}/meetings/{NOV_10}"
    api_meeting = f"/api/v1/groups/{group_id}/occurrences/{NOV_10}"
    g = world.graduate.id
    # (console method, console path, form, API method, API path, API body); {program} is the
    # program of the page's reader, as the console picks it.
    walk = [
        ("GET", "/groups", None, "GET", "/api/v1/programs/{program}/groups", None),
        ("GET", grp, None, "GET", f"/api/v1/groups/{group_id}/engagement", None),
        (
            "POST",
            f"{grp}/announcements",
            {"title": "Hi", "body": "Tea."},
            "POST",
            f"/api/v1/groups/{group_id}/announcements",
            {"title": "Hi", "body": "Tea."},
        ),
        (
            "POST",
            f"{grp}/coordinators",
            {"emails": ""},
            "PUT",
            f"/api/v1/groups/{group_id}/coordinators",
            {"emails": []},
        ),
        (
            "POST",
            f"{grp}/schedule",
            {"day": "TU", "time": "18:00"},
            "PATCH",
            f"/api/v1/groups/{group_id}",
            {"rrule": "FREQ=WEEKLY;BYDAY=TU"},
        ),
        ("GET", meeting, None, "GET", f"{api_meeting}/attendance", None),
        ("POST", f"{meeting}/attendance", {}, "PUT", f"{api_meeting}/attendance", {"records": []}),
        ("POST", meeting, {"change": "restore"}, "PUT", api_meeting, {"cancelled": False}),
        ("POST", meeting, {"change": "cancel"}, "PUT", api_meeting, {"cancelled": True}),
        (
            "POST",
            meeting,
            {"change": "move", "date": "2026-11-11", "time": "18:00"},
            "PUT",
            api_meeting,
            {"cancelled": False, "starts_at_local": "2026-11-11T18:00:00"},
        ),
        ("GET", "/program/graduates", None, "GET", "/api/v1/programs/{program}/graduates", None),
        (
            "POST",
            "/program/graduates",
            enrol_form,
            "POST",
            "/api/v1/programs/{program}/graduates",
            enrol_body,
        ),
        (
            "POST",
            f"/program/graduates/{g}/enrollment-code",
            {},
            "POST",
            f"/api/v1/graduates/{g}/enrollment-code",
            None,
        ),
        ("GET", "/program/flag-rules", None, "GET", "/api/v1/programs/{program}/flag-rules", None),
        (
            "POST",
            "/program/flag-rules",
            rules_form,
            "PUT",
            "/api/v1/programs/{program}/flag-rules",
            {"cooldown_days": defaults["cooldown_days"]},
        ),
        ("GET", "/program/audit", None, "GET", "/api/v1/programs/{program}/audit-events", None),
        ("GET", "/program/settings", None, "GET", "/api/v1/programs/{program}/retention", None),
        (
            "POST",
            "/program/settings",
            settings_form,
            "PATCH",
            "/api/v1/programs/{program}",
            {"phone": "+1 555 0100"},
        ),
        (
            "POST",
            "/program/retention",
            retention,
            "PUT",
            "/api/v1/programs/{program}/retention",
            {k: int(v) for k, v in retention.items()},
        ),
        ("GET", "/program/members", None, "GET", "/api/v1/programs/{program}/members", None),
        (
            "POST",
            "/program/members",
            {"email": "{persona}-c@example.org", "role": "therapist"},
            "POST",
            "/api/v1/programs/{program}/members",
            {"email": "{persona}-a@example.org", "role": "therapist"},
        ),
        ("GET", f"/program/graduates/{g}", None, "GET", f"/api/v1/graduates/{g}/care-team", None),
        (
            "POST",
            f"/program/graduates/{g}/care-team",
            {"email": "{persona}-c@example.org"},
            "POST",
            f"/api/v1/graduates/{g}/care-team",
            {"email": "{persona}-a@example.org"},
        ),
        ("GET", "/program/audit.csv", None, "GET", "/api/v1/programs/{program}/audit-events", None),
    ]
    personas = (
        "graduate",
        "therapist_consent",
        "therapist_no_consent",
        "coordinator",
        "staff",
        "other_staff",
        "anonymous",
    )
    differences, seen = [], set()
    for persona in personas:
        email = world.email(persona)
        program = world.other_program.id if persona == "other_staff" else world.program.id
        browser, token = _console(app, email)
        # Taking someone off the care team, once through each door: two fresh entries.
        api_entry, page_entry = (_care_team_entry(db, world) for _ in range(2))
        removal = (
            "POST",
            f"/program/graduates/{g}/care-team/{page_entry}/remove",
            {},
            "DELETE",
            f"/api/v1/graduates/{g}/care-team/{api_entry}",
            None,
        )
        for c_method, c_path, form, a_method, a_path, body in [*walk, removal]:
            if isinstance(body, dict) and "email" in body:
                body = {**body, "email": body["email"].format(persona=persona)}
            if form and "email" in form:
                form = {**form, "email": form["email"].format(persona=persona)}
            api = (
                as_user(email).open(a_method, a_path.format(program=program), json=body).status_code
            )
            if c_method == "GET":
                page = browser.get(f"/console{c_path}")
            else:
                page = browser.post(f"/console{c_path}", data={"csrf_token": token, **(form or {})})
            expected = _outcome(api)
            if persona == "graduate" and expected == "ok":
                expected = "403"  # the app serves graduates their own data; the console never
            got = _outcome(page.status_code, page.headers.get("Location", ""))
            seen.add(got)
            if got != expected:
                differences.append((persona, c_method, c_path, got, expected))
    assert differences == []
    assert seen == {"ok", "403", "404", "sign in"}


# --- speed ----------------------------------------------------------------------------------


def busy_program(session, size: int = 200) -> dict:
    """A program of `size` graduates, a Tuesday group seating 40 of them with four weeks of
    registers and announcements, and an audit trail: each page's worth of everything."""
    program = factories.program(session, "Busy IOP")
    therapist = factories.member(session, program, Role.THERAPIST)
    staff = factories.member(session, program, Role.STAFF)
    coordinator = factories.member(session, program, Role.COORDINATOR)
    graduates = factories.caseload(session, program, therapist, size)
    group = Group(
        program_id=program.id,
        **{k: v for k, v in CHICAGO.items() if k != "starts_at_local"},
        starts_at=datetime(2026, 10, 6, 23, tzinfo=UTC),
        created_at=factories.NOW,
        updated_at=factories.NOW,
    )
    group.capacity = 40
    session.add(group)
    session.flush()
    for seat, graduate in enumerate(graduates[:40], start=1):
        session.add(
            GroupMember(
                group_id=group.id,
                graduate_id=graduate.id,
                status="member",
                seat=seat,
                share_name=False,
                joined_at=factories.NOW,
            )
        )
        for week in range(4):
            session.add(
                GroupAttendance(
                    group_id=group.id,
                    occurrence_start=datetime(2026, 10, 27, 23, tzinfo=UTC) + timedelta(weeks=week),
                    graduate_id=graduate.id,
                    status=("present", "absent", "excused")[(seat + week) % 3],
                    recorded_by=staff.user_id,
                    recorded_at=factories.NOW,
                )
            )
    for index in range(12):
        session.add(
            GroupAnnouncement(
                group_id=group.id,
                title=f"News {index}",
                body="Tea from 5:45.",
                author_user_id=staff.user_id,
                created_at=factories.NOW,
            )
        )
    for graduate in graduates:
        session.add(
            AuditEvent(
                occurred_at=factories.NOW,
                actor_user_id=therapist.user_id,
                actor_role="therapist",
                action="graduate.read",
                program_id=program.id,
                graduate_id=graduate.id,
                outcome="allowed",
            )
        )
    session.commit()
    meeting = f"/console/groups/{group.id}/meetings/2026-11-18T00:00:00Z"
    return {
        "staff": staff.email,
        "coordinator": coordinator.email,
        "coordinator_pages": ["/console/groups", f"/console/groups/{group.id}", meeting],
        "staff_pages": [
            "/console/groups",
            f"/console/groups/{group.id}",
            meeting,
            "/console/program/graduates",
            "/console/program/flag-rules",
            "/console/program/audit",
            f"/console/program/audit?person={therapist.email}&from=2026-01-01",
            "/console/program/audit.csv",
            "/console/program/settings",
            "/console/program/members",
            f"/console/program/graduates/{graduates[0].id}",
        ],
    }


def test_each_page_makes_a_bounded_number_of_statements(app, client, db):
    seeded = busy_program(db)
    sign_in(client, seeded["coordinator"])
    staff = app.test_client()
    sign_in(staff, seeded["staff"])
    for browser, pages in ((client, seeded["coordinator_pages"]), (staff, seeded["staff_pages"])):
        for url in pages:
            with counted(app) as statements:
                page = browser.get(url)
            assert page.status_code == 200, url
            real = [
                s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))
            ]
            # A group page reads six things (the group, meetings, RSVPs, news, engagement,
            # who runs it), each through access.group as the API's routes do.
            assert len(real) <= 16, (url, len(real))
    html = staff.get(seeded["coordinator_pages"][2]).get_data(as_text=True)
    assert html.count('type="radio"') == 120  # 40 members, three choices each


def test_staff_run_the_programs_settings_retention_and_see_deletion_requests(
    client, world, as_user, db
):
    asked = as_user(world.email("graduate")).post("/api/v1/me/deletion")
    assert asked.status_code in (200, 201, 202), asked.json
    sign_in(client, world.staff.email)
    url = "/console/program/settings"
    page = client.get(url).get_data(as_text=True)
    assert "988" in page and world.graduate.display_name in page  # the pending request
    saved = post_form(
        client,
        url,
        url,
        phone="+1 555 0100",
        **{"line-name-0": "988 Lifeline", "line-phone-0": "988", "line-text-0": "988"},
        **{"line-name-1": "Warm line", "line-phone-1": "+1 555 0199"},
        timezone="America/Chicago",
        **{"hours-start": "09:00", "hours-end": "17:00", "hours-days": ["mon", "tue"]},
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    program = as_user(world.email("staff")).get(f"/api/v1/programs/{world.program.id}").json
    assert program["phone"] == "+1 555 0100"
    assert [line["name"] for line in program["crisis_lines"]] == ["988 Lifeline", "Warm line"]
    assert program["working_hours"]["days"] == ["mon", "tue"]
    refused = post_form(
        client,
        url,
        url,
        phone="call me",
        **{"line-name-0": "X", "line-phone-0": "988"},
        **{"hours-start": "09:00", "hours-end": "17:00", "hours-days": "mon"},
    )
    assert refused.status_code == 422 and "Phone" in refused.get_data(as_text=True)
    none = post_form(client, url, url, **{"hours-start": "09:00", "hours-end": "17:00"})
    assert none.status_code == 422  # no crisis line, no working day

    retention = {"deletion_grace_days": "14", "inbox_retention_days": "90"}
    kept = post_form(
        client, url, "/console/program/retention", **retention, clinical_retention_years="7"
    )
    assert kept.status_code == 303
    assert (
        as_user(world.email("staff"))
        .get(f"/api/v1/programs/{world.program.id}/retention")
        .json["deletion_grace_days"]
        == 14
    )
    too_short = post_form(
        client, url, "/console/program/retention", **retention, clinical_retention_years="2"
    )
    assert too_short.status_code == 422


def test_staff_add_members_and_keep_care_teams_with_consents_read_only(client, world, db):
    sign_in(client, world.staff.email)
    url = "/console/program/members"
    added = post_form(client, url, url, email="New.Coordinator@example.org", role="coordinator")
    assert added.status_code == 303
    assert "new.coordinator@example.org" in client.get(url).get_data(as_text=True)
    assert (
        post_form(
            client, url, url, email="new.coordinator@example.org", role="coordinator"
        ).status_code
        == 409
    )
    assert post_form(client, url, url, email="x@example.org", role="king").status_code == 422

    admin = f"/console/program/graduates/{world.graduate.id}"
    page = client.get(admin).get_data(as_text=True)
    assert world.therapist_consent.email in page and world.therapist_no_consent.email in page
    assert 'name="share_check_ins"' not in page  # consents are read only here
    assert re.search(rf"{re.escape(world.therapist_consent.email)}</td>\s*<td>yes, since", page)
    assert (
        post_form(
            client, admin, f"{admin}/care-team", email="new.therapist@example.org"
        ).status_code
        == 303
    )
    assert "new.therapist@example.org" in client.get(admin).get_data(as_text=True)
    [row] = [
        row
        for row in client.get(admin).get_data(as_text=True).split("<tr>")
        if world.therapist_consent.email in row
    ]
    removal = re.search(r'action="([^"]+/remove)"', row).group(1)
    assert post_form(client, admin, removal).status_code == 303
    after = client.get(admin).get_data(as_text=True)
    assert world.therapist_consent.email not in after
    assert world.therapist_no_consent.email in after


def test_a_coordinator_changes_the_weekly_schedule_and_answers_follow(client, world, as_user):
    group_id = _group(world, as_user)
    _join(world, as_user, group_id)
    as_user(world.email("graduate")).put(
        f"/api/v1/groups/{group_id}/occurrences/{NOV_24}/rsvp", json={"response": "yes"}
    )
    sign_in(client, world.coordinator.email)
    url = f"/console/groups/{group_id}"
    moved = post_form(client, url, f"{url}/schedule", day="WE", time="17:30")
    assert moved.status_code == 303
    html = client.get(f"{url}?month=2026-11").get_data(as_text=True)
    assert "Wed 25 Nov 2026, 17:30" in html and "1 going" in html
    assert post_form(client, url, f"{url}/schedule", day="XX", time="17:30").status_code == 422


def test_staff_see_every_flag_with_who_acknowledged_escalations_and_the_rules_version(
    client, app, db, clock, as_user
):
    from jobs.scheduler import run_job
    from tests.test_flags import Story, phq9

    story = Story(db, as_user, clock)
    story.check_in("phq9", phq9(9, item9=1))  # urgent
    clock.advance(hours=2)
    run_job(app, "flags.escalate")
    flag_id = story.flags()[0]["id"]
    as_user(story.emails["therapist"]).post(f"/api/v1/flags/{flag_id}/acknowledge", json={})
    sign_in(client, story.emails["staff"])
    queue = client.get("/console/flags").get_data(as_text=True)
    assert f"Acknowledged by {story.emails['therapist']}" in queue
    assert "<strong>escalated" in queue
    as_user(story.emails["staff"]).post(
        f"/api/v1/flags/{flag_id}/resolve", json={"outcome": "monitor", "note": "Seen."}
    )
    assert f"/console/flags/{flag_id}" not in client.get("/console/flags").get_data(True)
    assert f"/console/flags/{flag_id}" in client.get("/console/flags?status=resolved").get_data(
        True
    )
    rules = client.get("/console/program/flag-rules").get_data(as_text=True)
    [link] = re.findall(r'href="(/console/flags\?status=all&amp;rules_version=[^"]+)"', rules)
    listed = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert f"/console/flags/{flag_id}" in listed and "All flags" in listed
    assert "All flags" in client.get("/console/flags?status=all&rules_version=program-v9").get_data(
        True
    ) and f"/console/flags/{flag_id}" not in client.get(
        "/console/flags?status=all&rules_version=program-v9"
    ).get_data(True)


def test_staff_assign_a_group_and_other_coordinators_no_longer_see_it(client, world, as_user, db):
    other = factories.member(db, world.program, Role.COORDINATOR)
    db.commit()
    group_id = _group(world, as_user)
    staff = client.application.test_client()
    sign_in(staff, world.staff.email)
    url = f"/console/groups/{group_id}"
    assigned = post_form(staff, url, f"{url}/coordinators", emails=other.email)
    assert assigned.status_code == 303
    assert other.email in staff.get(url).get_data(as_text=True)
    sign_in(client, world.coordinator.email)
    assert "Tuesday aftercare" not in client.get("/console/groups").get_data(as_text=True)
    assert client.get(url).status_code == 403
    runner = client.application.test_client()
    sign_in(runner, other.email)
    assert "Tuesday aftercare" in runner.get("/console/groups").get_data(as_text=True)
    assert 'name="emails"' not in runner.get(url).get_data(as_text=True)  # staff assign
    wrong = post_form(staff, url, f"{url}/coordinators", emails=world.therapist_consent.email)
    assert wrong.status_code == 422


def test_staff_of_two_programs_switch_and_each_form_changes_the_program_shown(client, world, db):
    from api.programs.models import Membership

    db.add(
        Membership(
            program_id=world.other_program.id,
            email=world.staff.email,
            role=Role.STAFF,
            user_id=world.staff.user_id,
            created_at=factories.NOW,
        )
    )
    db.commit()
    sign_in(client, world.staff.email)
    first = client.get("/console/program/members").get_data(as_text=True)
    assert 'aria-label="Programs"' in first and "Elsewhere IOP" in first
    url = f"/console/program/members?program={world.other_program.id}"
    added = post_form(
        client,
        url,
        "/console/program/members",
        email="only-elsewhere@example.org",
        role="therapist",
        program=str(world.other_program.id),
    )
    assert (
        added.status_code == 303
        and f"program={world.other_program.id}" in added.headers["Location"]
    )
    assert "only-elsewhere@example.org" in client.get(url).get_data(as_text=True)
    home = client.get(f"/console/program/members?program={world.program.id}").get_data(True)
    assert "only-elsewhere@example.org" not in home
