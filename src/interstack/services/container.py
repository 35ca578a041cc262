"""The services of one gateway, built by the app factory and injected into every request."""

from __future__ import annotations

from dataclasses import dataclass

from interstack.config import Settings
from interstack.services.catalog import Catalog
from interstack.services.compute.bundle import ComputeServices
from interstack.services.identity.app_credentials import AppCredentialService
from interstack.services.identity.assignments import AssignmentService
from interstack.services.identity.auth import AuthService
from interstack.services.identity.directory import DirectoryService
from interstack.services.identity.role_definitions import RoleService
from interstack.services.identity.users import UserService
from interstack.services.image.data import ImageDataService
from interstack.services.image.for_compute import ComputeImages
from interstack.services.image.images import ImageService
from interstack.services.image.members import MemberService
from interstack.services.network.service import NetworkServices
from interstack.services.object.service import ObjectStorage
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue
from interstack.services.volume.bundle import VolumeServices
from interstack.store import Database


@dataclass
class Services:
    """Everything a request handler may use. Created once per app; never global."""

    settings: Settings
    db: Database
    catalog: Catalog
    auth: AuthService
    directory: DirectoryService
    users: UserService
    roles: RoleService
    assignments: AssignmentService
    app_credentials: AppCredentialService
    regions: Regions
    tasks: TaskQueue
    compute: ComputeServices
    images: ImageService
    image_data: ImageDataService
    image_members: MemberService
    #: what compute uses of images (``BootImages``, server snapshots)
    compute_images: ComputeImages
    network: NetworkServices
    object_storage: ObjectStorage
    volume: VolumeServices
