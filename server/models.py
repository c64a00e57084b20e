"""Every mapped class, imported once so metadata is complete (Alembic checks, tests, create_all)."""
from .assignment.models import AssignmentChange, CommitteeAssignment  # noqa: F401
from .audit.models import AuditEvent, DeniedAttempt  # noqa: F401
from .auth.models import LoginThrottle, RevokedToken, User  # noqa: F401
from .db import Base  # noqa: F401
from .devices.models import Device  # noqa: F401
from .directory.models import Department, SpecialistEntry  # noqa: F401
from .followups.models import FollowUp  # noqa: F401
from .households.models import ChronicCondition, Household, Resident, ResidentMove  # noqa: F401
from .imports.models import ImportBatch  # noqa: F401
from .labs.models import LabFeed, LabMessage, LabReport, LabReportSeen, LabResultRow  # noqa: F401
from .notifications.models import InboxItem, SmsMessage  # noqa: F401
from .org.models import Center, Committee, Hospital, Team  # noqa: F401
from .referrals.models import Referral, ReferralAttachment, ReferralMessage  # noqa: F401
from .sync.models import ServerState, SyncBatch, SyncChange, SyncConflict, SyncReceipt  # noqa: F401
