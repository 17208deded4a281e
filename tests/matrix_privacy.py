"""Access-matrix rows for the graduate's own data and retention settings."""

from __future__ import annotations

from typing import Any

from tests.personas import row

PRIVACY_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # Only ever one's own: every graduate gets their own, nobody else has any.
    ("GET", "/api/v1/me/export"): row(403, graduate=200, other_graduate=200),
    ("GET", "/api/v1/me/deletion"): row(403, graduate=200, other_graduate=200),
    ("POST", "/api/v1/me/deletion"): row(403, graduate=202, other_graduate=202),
    ("DELETE", "/api/v1/me/deletion"): row(403, graduate=204, other_graduate=204),
    ("GET", "/api/v1/programs/{program_id}/retention"): row(403, staff=200, other_staff=404),
    ("PUT", "/api/v1/programs/{program_id}/retention"): row(403, staff=200, other_staff=404),
}
PRIVACY_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/v1/programs/{program_id}/retention"): {
        "deletion_grace_days": 14,
        "inbox_retention_days": 90,
        "clinical_retention_years": 10,
    },
}
