"""``GET /extensions``: the Cinder API extensions this gateway serves, under Cinder's own names
and aliases (clients such as Tempest read the list to know what to test)."""

from __future__ import annotations

from typing import Any

from interstack.api.deps import Caller
from interstack.api.responses import OrjsonResponse, json_response
from interstack.api.routing import Route
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion

#: (name, alias, description) of each extension whose API is served here
_SERVED = (
    ("AdminActions", "os-admin-actions", "Enable admin actions."),
    ("AvailabilityZones", "os-availability-zone", "Describe Availability Zones."),
    ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes", "Snapshot attributes."),
    ("Quotas", "os-quota-sets", "Quota management support."),
    ("TypesManage", "os-types-manage", "Types manage support."),
    ("TypesExtraSpecs", "os-types-extra-specs", "Type extra specs support."),
    ("VolumeActions", "os-volume-actions", "Enable volume actions."),
    ("VolumeHostAttribute", "os-vol-host-attr", "Expose host as an attribute of a volume."),
    ("VolumeImageMetadata", "os-vol-image-meta", "Show image metadata of bootable volumes."),
    ("VolumeMigStatusAttribute", "os-vol-mig-status-attr", "Expose migration status."),
    ("VolumeTenantAttribute", "os-vol-tenant-attr", "Expose the project of a volume."),
)
_UPDATED = "2013-08-08T00:00:00+00:00"


def _extension(name: str, alias: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "alias": alias,
        "description": description,
        "updated": _UPDATED,
        "links": [],
    }


def list_extensions(
    _project: UrlProject, _caller: Caller, _version: Microversion
) -> OrjsonResponse:
    return json_response({"extensions": [_extension(*served) for served in _SERVED]})


ROUTES: list[Route] = [Route("GET", "/extensions", list_extensions)]
