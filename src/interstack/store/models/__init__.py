"""SQLAlchemy models, one module per area. Column sets change only with a migration.

Every model module is imported here, so ``Base.metadata`` (which migrations compare against) and
``from interstack.store.models import X`` both see all of them.
"""

from interstack.store.models.base import Base
from interstack.store.models.compute import (
    Flavor,
    FlavorAccess,
    InstanceAction,
    Keypair,
    QuotaLimit,
    Server,
    ServerGroup,
    ServerPassword,
)
from interstack.store.models.identity import (
    ApplicationCredential,
    Domain,
    Project,
    RevocationEvent,
    Role,
    RoleAssignment,
    User,
)
from interstack.store.models.image import Image, ImageMember, ImageTag
from interstack.store.models.network import (
    FloatingIp,
    IpAllocation,
    Network,
    NetworkQuota,
    Port,
    PortSecurityGroup,
    Router,
    RouterClaimLeftover,
    RouterPort,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)
from interstack.store.models.object import ObjectAccount, ObjectContainer, StoredObject
from interstack.store.models.sim import SimResource
from interstack.store.models.tasks import Task
from interstack.store.models.volume import (
    Volume,
    VolumeAttachment,
    VolumeMessage,
    VolumeQuota,
    VolumeSnapshot,
    VolumeType,
)

__all__ = [
    "ApplicationCredential",
    "Base",
    "Domain",
    "Flavor",
    "FlavorAccess",
    "FloatingIp",
    "Image",
    "ImageMember",
    "ImageTag",
    "InstanceAction",
    "IpAllocation",
    "Keypair",
    "Network",
    "NetworkQuota",
    "ObjectAccount",
    "ObjectContainer",
    "Port",
    "PortSecurityGroup",
    "Project",
    "QuotaLimit",
    "RevocationEvent",
    "Role",
    "RoleAssignment",
    "Router",
    "RouterClaimLeftover",
    "RouterPort",
    "SecurityGroup",
    "SecurityGroupRule",
    "Server",
    "ServerGroup",
    "ServerPassword",
    "SimResource",
    "StoredObject",
    "Subnet",
    "SubnetPool",
    "Task",
    "User",
    "Volume",
    "VolumeAttachment",
    "VolumeMessage",
    "VolumeQuota",
    "VolumeSnapshot",
    "VolumeType",
]
