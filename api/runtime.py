"""What one app instance holds: settings, database, clock, token verifier and content."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from api.auth import TokenVerifier
from api.clock import Clock
from api.config import Settings
from api.content.loader import ContentLibrary
from api.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    verifier: TokenVerifier
    content: ContentLibrary


def runtime() -> Runtime:
    return current_app.extensions["companion"]
