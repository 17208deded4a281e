"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from api.audit.models import AuditEvent
from api.checkins.models import CheckIn, IdempotentRequest
from api.content.models import ProgramContent
from api.flags.models import Flag, FlagEvent
from api.graduates.models import CareTeamMember, Consent, EnrollmentCode, Graduate
from api.groups.models import (
    Group,
    GroupAnnouncement,
    GroupAttendance,
    GroupCalendarFeed,
    GroupCoordinator,
    GroupMember,
    GroupOccurrenceChange,
    GroupRsvp,
)
from api.notifications.models import Device, Notification
from api.plans.models import (
    Appointment,
    AppointmentReport,
    CalendarFeed,
    Medication,
    Plan,
    PlanChange,
    PlanSkill,
    SkillPractice,
)
from api.programs.models import Membership, Program
from api.reminders.models import ReminderPlanning, ReminderPreferences
from api.summaries.models import Summary, SummaryPreference, SummaryRun
from api.users.models import User

__all__ = [
    "Appointment",
    "AppointmentReport",
    "AuditEvent",
    "CalendarFeed",
    "CareTeamMember",
    "CheckIn",
    "Consent",
    "Device",
    "EnrollmentCode",
    "Flag",
    "FlagEvent",
    "Graduate",
    "Group",
    "GroupAnnouncement",
    "GroupAttendance",
    "GroupCalendarFeed",
    "GroupCoordinator",
    "GroupMember",
    "GroupOccurrenceChange",
    "GroupRsvp",
    "IdempotentRequest",
    "Medication",
    "Membership",
    "Notification",
    "Plan",
    "PlanChange",
    "PlanSkill",
    "Program",
    "ProgramContent",
    "ReminderPlanning",
    "ReminderPreferences",
    "SkillPractice",
    "Summary",
    "SummaryPreference",
    "SummaryRun",
    "User",
]
