from __future__ import annotations

import uuid
from typing import Any

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint
from api.reminders import schemas as s
from api.reminders import service
from api.runtime import runtime

blp = Blueprint(
    "reminders",
    __name__,
    url_prefix="/api/v1",
    description="Reminder preferences, snooze and pause (the graduate's own)",
)
GRADUATE = "/graduates/<uuid:graduate_id>"


def _context() -> dict[str, Any]:
    rt = runtime()
    return {"session": rt.db.session(), "actor": g.actor, "now": rt.clock.now()}


@blp.route(f"{GRADUATE}/reminder-preferences")
class Preferences(MethodView):
    @blp.requires("graduate")
    @blp.response(200, s.PreferencesOut)
    def get(self, graduate_id: uuid.UUID):
        """Times, quiet hours, daily cap and kinds, in the graduate's own time zone."""
        return service.read(graduate_id=graduate_id, **_context())

    @blp.requires("graduate")
    @blp.arguments(s.PreferencesIn)
    @blp.response(200, s.PreferencesOut)
    def put(self, body: dict, graduate_id: uuid.UUID):
        """Replace the preferences; reminders already planned move with them."""
        return service.replace(graduate_id=graduate_id, body=body, **_context())


@blp.route(f"{GRADUATE}/reminders/snooze")
class Snooze(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.SnoozeIn)
    @blp.response(200, s.PreferencesOut)
    def post(self, body: dict, graduate_id: uuid.UUID):
        """Not now: for an hour, until tonight (19:00) or tomorrow morning; one kind or all.
        A reminder that just arrived comes back when the snooze ends."""
        return service.snooze(graduate_id=graduate_id, **body, **_context())


@blp.route(f"{GRADUATE}/reminders/pause")
class Pause(MethodView):
    @blp.requires("graduate")
    @blp.arguments(s.PauseIn)
    @blp.response(200, s.PreferencesOut)
    def post(self, body: dict, graduate_id: uuid.UUID):
        """Pause every reminder for N days (0 resumes now)."""
        return service.pause(graduate_id=graduate_id, **body, **_context())
