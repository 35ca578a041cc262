"""Quota sets and absolute limits by microversion (network quotas go at 2.36, files at 2.57)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interstack.api.microversions import APIVersion
from interstack.services.compute.records import QuotaUsage

V2_36 = APIVersion(2, 36)
V2_39 = APIVersion(2, 39)
V2_57 = APIVersion(2, 57)

NETWORK_KEYS = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
FILE_KEYS = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def shown_keys(limits: Mapping[str, Any], version: APIVersion) -> list[str]:
    hidden: set[str] = set()
    if version >= V2_36:
        hidden.update(NETWORK_KEYS)
    if version >= V2_57:
        hidden.update(FILE_KEYS)
    return [k for k in limits if k not in hidden]


def quota_set(project_id: str | None, limits: Mapping[str, int], version: APIVersion) -> Any:
    body: dict[str, Any] = {"id": project_id} if project_id is not None else {}
    body.update({k: limits[k] for k in shown_keys(limits, version)})
    return {"quota_set": body}


def quota_set_detail(project_id: str, usage: Mapping[str, QuotaUsage], version: APIVersion) -> Any:
    body: dict[str, Any] = {"id": project_id}
    for key in shown_keys(usage, version):
        body[key] = {"limit": usage[key].limit, "in_use": usage[key].in_use, "reserved": 0}
    return {"quota_set": body}


def absolute_limits(usage: Mapping[str, QuotaUsage], version: APIVersion) -> Any:
    """``GET /limits``: the absolute limits with what is used; no rate limits (an empty list)."""

    def limit(key: str) -> int:
        return usage[key].limit

    def used(key: str) -> int:
        return usage[key].in_use

    absolute: dict[str, int] = {
        "maxServerMeta": limit("metadata_items"),
        "maxTotalKeypairs": limit("key_pairs"),
        "maxServerGroups": limit("server_groups"),
        "maxServerGroupMembers": limit("server_group_members"),
        "maxTotalCores": limit("cores"),
        "maxTotalInstances": limit("instances"),
        "maxTotalRAMSize": limit("ram"),
        "totalCoresUsed": used("cores"),
        "totalInstancesUsed": used("instances"),
        "totalRAMUsed": used("ram"),
        "totalServerGroupsUsed": used("server_groups"),
    }
    if version < V2_39:
        absolute["maxImageMeta"] = limit("metadata_items")
    if version < V2_57:
        absolute["maxPersonality"] = limit("injected_files")
        absolute["maxPersonalitySize"] = limit("injected_file_content_bytes")
    if version < V2_36:
        absolute.update(
            {
                "maxSecurityGroups": limit("security_groups"),
                "maxSecurityGroupRules": limit("security_group_rules"),
                "maxTotalFloatingIps": limit("floating_ips"),
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
            }
        )
    return {"limits": {"rate": [], "absolute": absolute}}
