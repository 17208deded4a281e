"""Access-matrix rows for devices and inboxes (joined into test_access_matrix.EXPECTED)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.notifications.models import Device, Notification
from api.notifications.service import Planned, enqueue
from tests.personas import row

G = "/api/v1/graduates/{graduate_id}"

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
}
NOTIFICATION_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/devices"): {"token": "matrix-device-token", "platform": "android"},
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
