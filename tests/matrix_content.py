"""Access-matrix rows for the content routes (joined into test_access_matrix.EXPECTED)."""

from __future__ import annotations

from typing import Any

from tests.personas import row

P = "/api/v1/programs/{program_id}"
CONTENT_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # The library is for anyone signed in.
    ("GET", "/api/v1/content/skills"): row(200),
    ("GET", "/api/v1/content/skills/{skill_id}"): row(200),
    ("GET", "/api/v1/content/psychoeducation"): row(200),
    ("GET", "/api/v1/content/psychoeducation/{card_id}"): row(200),
    ("GET", "/api/v1/content/questionnaires/{questionnaire_id}"): row(200),
    # A program's changes to it are its staff's.
    ("GET", f"{P}/content"): row(403, staff=200, other_staff=404),
    ("POST", f"{P}/content/skills"): row(403, staff=201, other_staff=404),
    ("PUT", f"{P}/content/{{kind}}/{{content_id}}"): row(403, staff=200, other_staff=404),
}

CONTENT_BODIES: dict[tuple[str, str], Any] = {
    ("POST", f"{P}/content/skills"): {
        "id": "lakeside-walk-and-talk",
        "title": "Walk and talk",
        "category": "relapse-prevention",
        "minutes": 20,
        "phases": ["month1"],
        "tags": ["connection"],
        "summary": "Call someone from your list while you take a short walk.",
        "body": "1. Pick someone from your list.\n2. Call them and walk while you talk.\n",
    },
    ("PUT", f"{P}/content/{{kind}}/{{content_id}}"): {"hidden": True},
}


def content_values() -> dict[str, str]:
    return {
        "skill_id": "dbt-tipp",
        "card_id": "phase-month1",
        "questionnaire_id": "phq9",
        "kind": "skill",
        "content_id": "dbt-stop",
    }
