from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint, SelectPage
from api.notifications import channels, devices, mail, service
from api.notifications.schemas import (
    DeviceCreate,
    DeviceOut,
    EmailChannelOut,
    EmailChannelSet,
    EmailCode,
    NotificationOut,
)
from api.runtime import runtime

blp = Blueprint(
    "notifications", __name__, url_prefix="/api/v1", description="Devices and notifications"
)


@blp.route("/devices")
class Devices(MethodView):
    @blp.requires(recheck_account=True)
    @blp.arguments(DeviceCreate)
    @blp.response(201, DeviceOut)
    def post(self, body: dict):
        """Register this phone's FCM token (again: harmless; someone else's: it moves to you)."""
        rt = runtime()
        return devices.register(
            session=rt.db.session(), user_id=g.actor.user_id, now=rt.clock.now(), **body
        )


@blp.route("/devices/<string:token_or_id>")
class DeviceEntry(MethodView):
    @blp.requires()
    @blp.response(204)
    def delete(self, token_or_id: str):
        """Stop pushes to one of my devices, by its token or id (unknown: still 204)."""
        devices.unregister(
            session=runtime().db.session(), user_id=g.actor.user_id, token_or_id=token_or_id
        )


@blp.route("/graduates/<uuid:graduate_id>/notifications")
class GraduateInbox(MethodView):
    @blp.requires("graduate")
    @blp.response(200, NotificationOut(many=True))
    @blp.paginate(SelectPage)
    def get(self, graduate_id: uuid.UUID):
        """What was sent to me, newest first, whether or not the push arrived."""
        rt = runtime()
        return service.graduate_inbox(
            session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
        )


@blp.route("/graduates/<uuid:graduate_id>/notifications/<uuid:notification_id>/read")
class GraduateInboxRead(MethodView):
    @blp.requires("graduate")
    @blp.response(200, NotificationOut)
    def post(self, graduate_id: uuid.UUID, notification_id: uuid.UUID):
        """Mark one as read (again: no change)."""
        rt = runtime()
        return service.mark_read(
            session=rt.db.session(),
            actor=g.actor,
            graduate_id=graduate_id,
            notification_id=notification_id,
            now=rt.clock.now(),
        )


@blp.route("/me/notifications")
class MyInbox(MethodView):
    @blp.requires()
    @blp.response(200, NotificationOut(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """My own notifications (staff and therapists: escalations and notices), newest first."""
        rt = runtime()
        return service.inbox(user_id=g.actor.user_id, now=rt.clock.now())


@blp.route("/me/notifications/<uuid:notification_id>/read")
class MyInboxRead(MethodView):
    @blp.requires()
    @blp.response(200, NotificationOut)
    def post(self, notification_id: uuid.UUID):
        """Mark one of mine as read."""
        rt = runtime()
        return service.mark_read(
            session=rt.db.session(),
            actor=g.actor,
            notification_id=notification_id,
            now=rt.clock.now(),
        )


@blp.route("/me/email-channel")
class MyEmailChannel(MethodView):
    @blp.requires("staff", "therapist")
    @blp.response(200, EmailChannelOut)
    def get(self):
        """My email channel for alerts and summary notices (404: none)."""
        return channels.mine(session=runtime().db.session(), actor=g.actor)

    @blp.requires("staff", "therapist")
    @blp.arguments(EmailChannelSet)
    @blp.response(200, EmailChannelOut)
    def put(self, body: dict):
        """Set the address; a 6-digit code goes to it, and it is used once verified."""
        rt = runtime()
        return channels.set_address(
            session=rt.db.session(),
            actor=g.actor,
            email=body["email"],
            sender=mail.configured_sender(rt.settings),
            now=rt.clock.now(),
        )

    @blp.requires("staff", "therapist")
    @blp.response(204)
    def delete(self):
        """No more emails (none: still 204)."""
        channels.remove(session=runtime().db.session(), actor=g.actor)


@blp.route("/me/email-channel/verify")
class MyEmailChannelVerify(MethodView):
    @blp.requires("staff", "therapist")
    @blp.arguments(EmailCode)
    @blp.response(200, EmailChannelOut)
    def post(self, body: dict):
        """Confirm the address with the code sent to it (5 tries, 30 minutes)."""
        rt = runtime()
        return channels.verify(
            session=rt.db.session(), actor=g.actor, code=body["code"], now=rt.clock.now()
        )
