"""Access-matrix rows for the reminder routes (joined into test_access_matrix.EXPECTED)."""

from __future__ import annotations

from typing import Any

from tests.personas import row

G = "/api/v1/graduates/{graduate_id}"


def own(status: int) -> dict[str, int]:
    """The graduate's own settings: anyone else is refused by role or, another graduate, 404."""
    return row(403, graduate=status, other_graduate=404)


REMINDER_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", f"{G}/reminder-preferences"): own(200),
    ("PUT", f"{G}/reminder-preferences"): own(200),
    ("POST", f"{G}/reminders/snooze"): own(200),
    ("POST", f"{G}/reminders/pause"): own(200),
}
REMINDER_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", f"{G}/reminder-preferences"): {
        "skill_times": ["09:00", "18:30"],
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "daily_cap": 3,
        "kinds": {"skill_practice": True, "check_in": True, "appointment": True, "group": False},
        "maintenance_weekly": True,
        "appointment_lead_minutes": [1440, 60],
    },
    ("POST", f"{G}/reminders/snooze"): {"duration": "1h"},
    ("POST", f"{G}/reminders/pause"): {"days": 3},
}
