"""Every view that embeds check-in, schedule or flag data, read by the two readers a graduate
may limit: a care-team therapist with the check-in consent but not the Part 2 consent, and
one with no consent at all (issue: Part 2 and consent leaks).

- Without the Part 2 consent, nothing a reader sees moves when only Part 2 evidence changes
  (a BAM answered, a substance-use flag opened), and no view names the BAM.
- Without the check-in consent, no view carries anything derived from check-ins.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from api.programs.models import Role
from tests import factories

DAY = 105  # months 4-6: PHQ-9/GAD-7 due on days 98 and 112, weekly (day 105) only if intensified
BAM_WITH_USE = {f"bam-{i}": 0 for i in range(1, 18)} | {"bam-4": 2}


class Case:
    """A graduate in substance-use care on day 105, with a reader of every kind."""

    def __init__(self, db, as_user, clock) -> None:
        self.as_user, self.clock = as_user, clock
        program = factories.program(db)
        members = {
            "part2": factories.member(db, program, Role.THERAPIST),
            "check_ins_only": factories.member(db, program, Role.THERAPIST),
            "no_consent": factories.member(db, program, Role.THERAPIST),
        }
        staff = factories.member(db, program, Role.STAFF)
        self.graduate_email = factories.unique_email("grad")
        today = clock.now().date()
        graduate = factories.graduate(
            db,
            program,
            email=self.graduate_email,
            therapists=tuple(members.values()),
            graduation_date=today - timedelta(days=DAY),
            substance_use=True,
        )
        factories.consent(db, graduate, members["part2"], substance_use=True)
        factories.consent(db, graduate, members["check_ins_only"])
        db.commit()
        self.emails = {name: m.email for name, m in members.items()} | {"staff": staff.email}
        self.graduate_id = graduate.id

    def get(self, who: str, path: str):
        return self.as_user(self.emails[who]).get(path.format(g=self.graduate_id))

    def answer_bam_with_use(self) -> None:
        response = self.as_user(self.graduate_email).post(
            f"/api/v1/graduates/{self.graduate_id}/check-ins",
            json={
                "questionnaire": "bam",
                "answers": BAM_WITH_USE,
                "answered_at": self.clock.now().isoformat(),
            },
        )
        assert response.status_code == 201, response.json
        staff_flags = self.get("staff", "/api/v1/flags?graduate_id={g}").json
        assert [(f["kind"], f["source"]) for f in staff_flags] == [("watch", "substance_use")]


@pytest.fixture
def case(db, as_user, clock):
    return Case(db, as_user, clock)


VIEWS = {
    "record": "/api/v1/graduates/{g}",
    "today": "/api/v1/graduates/{g}/today",
    "due": "/api/v1/graduates/{g}/check-ins/due",
    "check_ins": "/api/v1/graduates/{g}/check-ins",
    "flags": "/api/v1/flags?graduate_id={g}",
    "caseload": "/api/v1/summaries/caseload",
    "fhir": "/api/v1/graduates/{g}/fhir",
}


def _seen(response) -> tuple[int, str]:
    body = response.json
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("id", "timestamp")}  # FHIR bundle
    return response.status_code, json.dumps(body, sort_keys=True, default=str)


@pytest.mark.parametrize("view", VIEWS)
def test_part2_evidence_does_not_move_what_a_reader_without_it_sees(case, view):
    before = _seen(case.get("check_ins_only", VIEWS[view]))
    case.answer_bam_with_use()
    after = _seen(case.get("check_ins_only", VIEWS[view]))
    assert before[0] == 200
    assert after == before
    assert "bam" not in after[1].lower()


def test_the_graduate_and_a_part2_reader_see_the_schedule_tighten(case):
    """The clinically right schedule still follows the substance-use flag: month-1 intensity
    for the graduate, as DOMAIN.md says; only the reader without Part 2 consent is spared it."""
    case.answer_bam_with_use()
    for who in ("part2", "staff"):
        due = {item["questionnaire"] for item in case.get(who, VIEWS["due"]).json}
        assert {"phq9", "gad7"} <= due, who
    mine = case.as_user(case.graduate_email).get(VIEWS["due"].format(g=case.graduate_id)).json
    assert {"phq9", "gad7"} <= {item["questionnaire"] for item in mine}
    limited = {item["questionnaire"] for item in case.get("check_ins_only", VIEWS["due"]).json}
    assert limited.isdisjoint({"phq9", "gad7", "bam"})


def test_without_the_check_in_consent_no_view_carries_check_in_data(case):
    case.answer_bam_with_use()
    today = case.get("no_consent", VIEWS["today"])
    assert today.status_code == 200
    assert today.json["check_ins_due"] is None
    for view in ("due", "check_ins", "fhir"):
        assert case.get("no_consent", VIEWS[view]).status_code == 403, view
    assert case.get("no_consent", "/api/v1/graduates/{g}/trends?instrument=phq9").status_code == 403
    assert case.get("no_consent", VIEWS["flags"]).json == []
    assert case.get("no_consent", VIEWS["caseload"]).json == []
    record = case.get("no_consent", VIEWS["record"]).json
    assert record["baseline"] is None and record["substance_use"] is None
