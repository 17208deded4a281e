"""The coordinator's and staff's console in Debian's chromium: attendance on a 390 px phone
in one pass, enrolment with the code shown and a hand-out, a flag-rule edit that makes a new
version, and the audit log filtered then exported. Every page is checked with axe-core."""

# ruff: noqa: F811  (the browser fixtures are imported from the therapist's browser tests)

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.test_console_browser import (  # noqa: F401  (fixtures)
    SIZES,
    browser,
    check,
    live,
    page,
    sign_in,
)
from tests.test_console_programs import CHICAGO
from tests.test_groups import _join

PHONE = dict(zip(("width", "height"), SIZES["phone"], strict=True))


@pytest.fixture
def group_id(world, as_user, db) -> str:
    from api.graduates.models import Graduate

    db.get(Graduate, world.other_graduate.id).display_name = "Alex"
    db.commit()
    world.other_graduate.display_name = "Alex"
    made = as_user(world.email("coordinator")).post(
        f"/api/v1/programs/{world.program.id}/groups", json=CHICAGO
    )
    assert made.status_code == 201, made.json
    _join(world, as_user, made.json["id"])
    _join(world, as_user, made.json["id"], "other_graduate")
    return made.json["id"]


def test_a_coordinator_takes_attendance_on_a_phone_in_one_pass(page, world, group_id, db):
    page.set_viewport_size(PHONE)
    sign_in(page, world.coordinator.email)
    page.wait_for_url(re.compile(r"/console/groups$"))
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ["Groups"]
    check(page, "groups")
    page.set_viewport_size(PHONE)

    page.get_by_role("link", name="Tuesday aftercare").click()
    page.wait_for_url(re.compile(r"/console/groups/[0-9a-f-]+$"))
    assert page.get_by_role("heading", name="Tuesday aftercare").is_visible()
    check(page, "group")
    page.set_viewport_size(PHONE)

    page.get_by_role("link", name="Tue 17 Nov 2026, 18:00").first.click()
    page.wait_for_url(re.compile(r"/meetings/2026-11-18T00:00:00Z$"))
    assert page.get_by_role("heading", name="Tue 17 Nov 2026, 18:00").is_visible()
    sam = page.get_by_role("group", name=world.graduate.display_name, exact=True)
    other = page.get_by_role("group", name=world.other_graduate.display_name, exact=True)
    sam.get_by_label("Present").check()
    other.get_by_label("Excused").check()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Save attendance").click()
    page.wait_for_url(re.compile(r"done=attendance"))
    assert page.get_by_role("status").inner_text() == "Attendance saved."
    assert sam.get_by_label("Present").is_checked()
    check(page, "meeting")
    page.set_viewport_size(PHONE)

    sam.get_by_label("Absent").check()  # fixing the register afterwards
    page.get_by_role("button", name="Save attendance").click()
    page.wait_for_url(re.compile(r"done=attendance"))
    assert (
        page.get_by_role("group", name=world.graduate.display_name, exact=True)
        .get_by_label("Absent")
        .is_checked()
    )


def test_staff_enrol_a_graduate_and_read_the_code_aloud(page, world):
    sign_in(page, world.staff.email)
    page.wait_for_url(re.compile(r"/console/caseload$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Graduates").click()
    page.wait_for_url(re.compile(r"/console/program/graduates$"))
    check(page, "graduates")
    page.get_by_label("Name they go by").fill("Robin")
    page.get_by_label("Graduation date").fill("2026-11-20")
    page.get_by_label("PHQ-9 at discharge").fill("8")
    page.get_by_label("GAD-7 at discharge").fill("6")
    page.get_by_label("Substance-use care (BAM check-ins)").check()
    page.get_by_role("button", name="Enrol and show the code").click()
    code = page.locator("p.code")
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code.inner_text())
    assert float(code.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 32
    handout = page.locator("section.handout").inner_text()
    assert "988" in handout and "Continuing-care companion" in handout
    check(page, "enrollment-code")
    page.emulate_media(media="print")
    assert page.locator(".top").is_hidden() and code.is_visible()
    page.emulate_media(media="screen")

    first = code.inner_text()
    page.get_by_role("link", name="Graduates").first.click()
    page.get_by_role("button", name="New code for Robin").click()
    page.wait_for_selector("p.code")
    again = page.locator("p.code").inner_text()
    assert again != first and "A new code for Robin" in page.locator("h1").inner_text()

    page.get_by_role("link", name="Graduates").first.click()
    page.get_by_role("link", name="Robin").click()
    page.wait_for_url(re.compile(r"/console/program/graduates/[0-9a-f-]+$"))
    assert world.therapist_consent.email not in page.locator("main").inner_text()
    page.get_by_label("Add a therapist (email)").fill(world.therapist_consent.email)
    page.get_by_role("button", name="Add to care team").click()
    page.wait_for_url(re.compile(r"done=added"))
    assert world.therapist_consent.email in page.locator("table").inner_text()
    check(page, "graduate-admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Program").click()
    page.wait_for_url(re.compile(r"/console/program/settings$"))
    check(page, "program-settings")
    page.get_by_role("link", name="Members and roles").click()
    check(page, "members")


def test_staff_edit_the_flag_rules_into_a_new_version(page, world):
    sign_in(page, world.staff.email)
    page.goto("/console/program/flag-rules")
    check(page, "flag-rules")
    page.get_by_label("Days before the same flag again").fill("10")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_url(re.compile(r"done=saved"))
    assert "Saved as version 1" in page.get_by_role("status").inner_text()
    rows = page.locator("section table tbody tr").all_inner_texts()
    assert rows[0].startswith("1\t") and world.staff.email in rows[0]
    assert page.get_by_label("Days before the same flag again").input_value() == "10"


def test_staff_filter_the_audit_log_and_export_csv(page, world, as_user):
    as_user(world.email("therapist_no_consent")).get(
        f"/api/v1/graduates/{world.graduate.id}/check-ins"
    )
    as_user(world.email("therapist_consent")).get(f"/api/v1/graduates/{world.graduate.id}")
    sign_in(page, world.staff.email)
    page.wait_for_url(re.compile(r"/console/caseload$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    check(page, "audit")
    page.get_by_label("Person (email)").fill(world.therapist_no_consent.email)
    page.get_by_label("Graduate").select_option(label=world.graduate.display_name)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"person="))
    table = page.locator("table.audit").inner_text()
    assert world.therapist_no_consent.email in table and "denied" in table
    assert world.therapist_consent.email not in table
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these events as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows and {row["person"] for row in rows} == {world.therapist_no_consent.email}
