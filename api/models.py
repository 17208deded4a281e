"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from api.audit.models import AuditEvent
from api.graduates.models import CareTeamMember, Consent, EnrollmentCode, Graduate
from api.programs.models import Membership, Program
from api.users.models import User

__all__ = [
    "AuditEvent",
    "CareTeamMember",
    "Consent",
    "EnrollmentCode",
    "Graduate",
    "Membership",
    "Program",
    "User",
]
