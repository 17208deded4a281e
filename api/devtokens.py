"""Unsigned ID tokens in the Firebase Auth emulator's format, for development and tests only.

The app accepts them only when FIREBASE_AUTH_EMULATOR_HOST is set, which production refuses.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def uid_for(email: str) -> str:
    """A stable emulator uid for an email, so the same demo person keeps one account."""
    return "dev-" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def mint(
    *,
    project_id: str,
    email: str,
    now: datetime,
    uid: str | None = None,
    email_verified: bool = True,
    lifetime: timedelta = timedelta(hours=1),
    **claims: Any,
) -> str:
    issued = int(now.timestamp())
    payload = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "sub": uid or uid_for(email),
        "iat": issued,
        "auth_time": issued,
        "exp": issued + int(lifetime.total_seconds()),
        "email": email,
        "email_verified": email_verified,
        "firebase": {"sign_in_provider": "password", "identities": {"email": [email]}},
        **claims,
    }
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(payload)}."
