"""Server JSON: summary, detail by microversion and by role, the create answer, addresses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from interstack.api.compute.views.links import resource_links
from interstack.api.microversions import APIVersion
from interstack.services.compute.records import InstanceAction, Server
from interstack.services.interfaces import ServerAddress

V2_3 = APIVersion(2, 3)  # extended server attributes (admins)
V2_9 = APIVersion(2, 9)  # locked
V2_16 = APIVersion(2, 16)  # host_status (admins)
V2_19 = APIVersion(2, 19)  # description
V2_26 = APIVersion(2, 26)  # tags
V2_47 = APIVersion(2, 47)  # the flavor embedded
V2_51 = APIVersion(2, 51)  # instance action events for everyone
V2_58 = APIVersion(2, 58)  # updated_at of instance actions
V2_62 = APIVersion(2, 62)  # host of instance action events
V2_63 = APIVersion(2, 63)  # trusted_image_certificates
V2_71 = APIVersion(2, 71)  # server_groups in show, update and rebuild
V2_73 = APIVersion(2, 73)  # locked_reason
V2_75 = APIVersion(2, 75)  # update and rebuild answer with the whole server

#: fields that before 2.75 only GET shows: update and rebuild answer without them
_GET_ONLY_BEFORE_2_75 = (
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "os-extended-volumes:volumes_attached",
    "security_groups",
    "host_status",
)

#: statuses that show ``progress``, as Nova does
_PROGRESS_STATUSES = frozenset({"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE"})


def timestamp(when: datetime | None) -> str | None:
    """Nova's ``created``/``updated``: seconds, with Z."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def usage_timestamp(when: datetime | None) -> str | None:
    """``OS-SRV-USG:*`` timestamps: microseconds, no zone."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%f")


def summary(server: Server, root: str) -> dict[str, Any]:
    return {
        "id": server.id,
        "name": server.name,
        "links": resource_links(root, "servers", server.id),
    }


def addresses(found: Sequence[ServerAddress]) -> dict[str, list[dict[str, Any]]]:
    """``addresses``: by network name, fixed then floating, as Neutron reports them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for address in found:
        grouped.setdefault(address.network_name, []).append(
            {
                "version": address.version,
                "addr": address.address,
                "OS-EXT-IPS:type": address.kind,
                "OS-EXT-IPS-MAC:mac_addr": address.mac_address,
            }
        )
    return grouped


def plain_addresses(found: Sequence[ServerAddress]) -> dict[str, list[dict[str, Any]]]:
    """``addresses`` with version and address only (``/ips``, and update/rebuild before 2.75)."""
    return {
        network: [{"version": a["version"], "addr": a["addr"]} for a in listed]
        for network, listed in addresses(found).items()
    }


def _bookmark(root: str, collection: str, item_id: str) -> list[dict[str, str]]:
    return [{"rel": "bookmark", "href": f"{root}/{collection}/{item_id}"}]


def _flavor(server: Server, root: str, version: APIVersion) -> dict[str, Any]:
    if version < V2_47:
        return {"id": server.flavor_id, "links": _bookmark(root, "flavors", server.flavor_id)}
    f = server.flavor
    return {
        "vcpus": f.get("vcpus", 0),
        "ram": f.get("ram", 0),
        "disk": f.get("disk", 0),
        "ephemeral": f.get("ephemeral", 0),
        "swap": f.get("swap", 0),
        "original_name": f.get("original_name", ""),
        "extra_specs": dict(f.get("extra_specs", {})),
    }


def _fault(server: Server, admin: bool) -> dict[str, Any] | None:
    if server.fault is None or server.status not in ("ERROR", "DELETED"):
        return None
    fault = {
        "code": server.fault.get("code", 500),
        "created": str(server.fault.get("created", ""))[:19] + "Z",
        "message": server.fault.get("message", ""),
    }
    if admin or fault["code"] != 500:
        fault["details"] = server.fault.get("details", "")
    return fault


def _admin_attributes(server: Server, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": server.host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": server.host,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{server.id[:8]}",
    }
    if version >= V2_3:
        body.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": server.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": server.launch_index,
                "OS-EXT-SRV-ATTR:hostname": server.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": server.root_device_name,
                "OS-EXT-SRV-ATTR:user_data": server.user_data,
            }
        )
    return body


def detail(
    server: Server, root: str, version: APIVersion, *, admin: bool, show: bool = False
) -> dict[str, Any]:
    """The full server; ``show`` adds what only show/update/rebuild answers carry (2.71)."""
    body: dict[str, Any] = {
        **summary(server, root),
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(server.metadata),
        "hostId": server.host_id,
        "image": {"id": server.image_id, "links": _bookmark(root, "images", server.image_id)}
        if server.image_id
        else "",
        "flavor": _flavor(server, root, version),
        "created": timestamp(server.created_at),
        "updated": timestamp(server.updated_at),
        "addresses": addresses(server.addresses),
        "accessIPv4": server.access_ipv4,
        "accessIPv6": server.access_ipv6,
        "OS-DCF:diskConfig": server.disk_config,
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "config_drive": server.config_drive,
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": usage_timestamp(server.launched_at),
        "OS-SRV-USG:terminated_at": usage_timestamp(server.deleted_at),
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:power_state": server.power_state,
        "os-extended-volumes:volumes_attached": [
            {"id": v.volume_id, "delete_on_termination": v.delete_on_termination}
            if version >= V2_3
            else {"id": v.volume_id}
            for v in server.volumes_attached
        ],
    }
    if server.status in _PROGRESS_STATUSES:
        body["progress"] = 0 if server.status == "BUILD" else 100
    if server.security_groups:
        body["security_groups"] = [{"name": name} for name in server.security_groups]
    fault = _fault(server, admin)
    if fault is not None:
        body["fault"] = fault
    if admin:
        body.update(_admin_attributes(server, version))
    if version >= V2_9:
        body["locked"] = server.locked
    if version >= V2_16 and admin:
        body["host_status"] = "UP" if server.host else ""
    if version >= V2_19:
        body["description"] = server.description
    if version >= V2_26:
        body["tags"] = list(server.tags)
    if version >= V2_63:
        body["trusted_image_certificates"] = None
    if version >= V2_71 and show:
        body["server_groups"] = []
    if version >= V2_73:
        body["locked_reason"] = server.locked_reason
    return body


def changed(server: Server, root: str, version: APIVersion, *, admin: bool) -> dict[str, Any]:
    """The answer of an update or a rebuild: before 2.75 Nova leaves out the extended fields."""
    body = detail(server, root, version, admin=admin, show=True)
    if version < V2_75:
        for key in [*_GET_ONLY_BEFORE_2_75, *(k for k in body if k.startswith("OS-EXT-SRV-ATTR:"))]:
            body.pop(key, None)
        body["addresses"] = plain_addresses(server.addresses)
    return body


def created(server: Server, root: str, admin_password: str) -> dict[str, Any]:
    """The 202 answer of a create: just enough to find the server again."""
    return {
        "id": server.id,
        "links": resource_links(root, "servers", server.id),
        "OS-DCF:diskConfig": server.disk_config,
        "security_groups": [{"name": name} for name in server.security_groups],
        "adminPass": admin_password,
    }


def instance_action(action: InstanceAction, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": action.server_id,
        "message": action.message,
        "project_id": action.project_id,
        "request_id": action.request_id,
        "start_time": usage_timestamp(action.start_time),
        "user_id": action.user_id,
    }
    if version >= V2_58:
        body["updated_at"] = usage_timestamp(action.updated_at)
    return body


def instance_action_events(
    action: InstanceAction, version: APIVersion, *, admin: bool, host_id: str
) -> list[dict[str, Any]]:
    events = []
    for event in action.events:
        shown: dict[str, Any] = {
            "event": event.get("event"),
            "start_time": event.get("start_time"),
            "finish_time": event.get("finish_time"),
            "result": event.get("result"),
        }
        if admin:
            shown["traceback"] = event.get("traceback")
        if version >= V2_62:
            shown["hostId"] = host_id
            if admin:
                shown["host"] = "interstack"
        events.append(shown)
    return events
