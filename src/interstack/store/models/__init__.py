"""SQLAlchemy models, one module per area. Column sets change only with a migration.

Every model module is imported here, so ``Base.metadata`` (which migrations compare against) and
``from interstack.store.models import X`` both see all of them.
"""

from interstack.store.models.base import Base
from interstack.store.models.identity import (
    ApplicationCredential,
    Domain,
    Project,
    RevocationEvent,
    Role,
    RoleAssignment,
    User,
)
from interstack.store.models.sim import SimResource
from interstack.store.models.tasks import Task

__all__ = [
    "ApplicationCredential",
    "Base",
    "Domain",
    "Project",
    "RevocationEvent",
    "Role",
    "RoleAssignment",
    "SimResource",
    "Task",
    "User",
]
