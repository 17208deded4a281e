from __future__ import annotations

from flask import g
from flask.views import MethodView

from api.extensions.smorest import Blueprint
from api.runtime import runtime
from api.users import service
from api.users.schemas import Me

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in person")


@blp.route("")
class MeView(MethodView):
    @blp.requires()
    @blp.response(200, Me)
    def get(self):
        """Who I am: my memberships and, if I am a graduate, my graduate id."""
        return service.me(actor=g.actor)


@blp.route("/sign-out-everywhere")
class SignOutEverywhere(MethodView):
    @blp.requires()
    @blp.response(204)
    def post(self):
        """Revoke every token issued so far, on every device; my calendar feeds stop too."""
        rt = runtime()
        service.sign_out_everywhere(session=rt.db.session(), actor=g.actor, now=rt.clock.now())
