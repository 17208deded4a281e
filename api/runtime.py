"""What one app instance holds: settings, database, clock and token verifier."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from api.auth import TokenVerifier
from api.clock import Clock
from api.config import Settings
from api.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    verifier: TokenVerifier


def runtime() -> Runtime:
    return current_app.extensions["companion"]
