from __future__ import annotations

from marshmallow import fields, validate

from api.extensions.smorest import Schema
from api.notifications.models import PLATFORMS

# FCM registration tokens are URL-safe text, well under 1 KB; no whitespace or controls.
TOKEN = validate.And(validate.Length(1, 1024), validate.Regexp(r"^[\x21-\x7e]+$"))


class DeviceCreate(Schema):
    token = fields.String(required=True, validate=TOKEN)
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))


class DeviceOut(Schema):
    """The token is not echoed back: the app has it, logs and proxies need not."""

    id = fields.UUID()
    platform = fields.String()
    created_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime()


class NotificationOut(Schema):
    id = fields.UUID()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True, metadata={"description": "opaque deep-link id"})
    due_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    read_at = fields.AwareDateTime(allow_none=True)
    pushed = fields.Function(
        lambda n: n.delivered_via == "push",
        metadata={"description": "false: the push did not reach a device; shown here anyway"},
    )
    taken_by = fields.Function(
        lambda n: n.taken_by.email if n.taken_by else None,
        allow_none=True,
        metadata={"description": "an alert: who acknowledged its flag, once someone has"},
    )


class EmailChannelSet(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))


class EmailCode(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))


class EmailChannelOut(Schema):
    email = fields.String()
    verified = fields.Function(lambda c: c.verified_at is not None)
    verified_at = fields.AwareDateTime(allow_none=True)
