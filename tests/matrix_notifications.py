"""Access-matrix rows for devices and inboxes (joined into test_access_matrix.EXPECTED)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.notifications.models import Device, Notification
from api.notifications.service import Planned, enqueue
from tests.personas import row

G = "/api/v1/graduates/{graduate_id}"


def clinicians(status: int) -> dict[str, int]:
    names = ("staff", "other_staff", "therapist_consent", "therapist_no_consent")
    return {name: status for name in (*names, "therapist_unlinked")}


NOTIFICATION_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # Anyone signed in has devices of their own; deleting another's is a quiet no-op.
    ("POST", "/api/v1/devices"): row(201),
    ("DELETE", "/api/v1/devices/{token_or_id}"): row(204),
    # A graduate's inbox is theirs alone: their care team gets its own notices.
    ("GET", f"{G}/notifications"): row(403, graduate=200, other_graduate=404),
    ("POST", f"{G}/notifications/{{notification_id}}/read"): row(
        403, graduate=200, other_graduate=404
    ),
    ("GET", "/api/v1/me/notifications"): row(200),
    ("POST", "/api/v1/me/notifications/{notification_id}/read"): row(404, graduate=200),
    # An email channel is for clinicians (staff and therapists), each their own.
    ("GET", "/api/v1/me/email-channel"): row(403, **clinicians(404)),
    ("PUT", "/api/v1/me/email-channel"): row(403, **clinicians(200)),
    ("DELETE", "/api/v1/me/email-channel"): row(403, **clinicians(204)),
    ("POST", "/api/v1/me/email-channel/verify"): row(403, **clinicians(404)),
}
NOTIFICATION_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/devices"): {"token": "matrix-device-token", "platform": "android"},
    ("PUT", "/api/v1/me/email-channel"): {"email": "alerts@example.org"},
    ("POST", "/api/v1/me/email-channel/verify"): {"code": "123456"},
}


def notification_values(world, db, now: datetime) -> dict[str, Any]:
    """A notification already sent to the graduate, and a device of theirs."""
    user_id = world.graduate.user_id
    due = now - timedelta(hours=1)
    enqueue(
        db,
        items=[Planned(user_id, "check_in_due", "phq9:matrix", due, graduate_id=world.graduate.id)],
        now=due,
    )
    sent = db.query(Notification).filter_by(user_id=user_id, subject="phq9:matrix").one()
    sent.status, sent.sent_at, sent.delivered_via = "sent", due, "push"
    device = Device(
        user_id=user_id, token="matrix-own-token", platform="ios", created_at=due, last_seen_at=due
    )
    db.add(device)
    db.flush()
    return {"notification_id": sent.id, "token_or_id": device.id}
