"""Security group JSON in Nova's own terms (``ip_protocol``, ``from_port``/``to_port``,
``ip_range``), which Nova derives from Neutron's groups: ingress rules only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interstack.services.interfaces import ServerGroupRule, ServerSecurityGroup

#: protocols whose rule without ports opens every port; any other such rule shows -1/-1
_PORTED = frozenset({"tcp", "udp", "6", "17"})


def _ports(rule: ServerGroupRule) -> tuple[int | None, int | None]:
    if rule.protocol and rule.port_range_min is None and rule.port_range_max is None:
        return (1, 65535) if rule.protocol.lower() in _PORTED else (-1, -1)
    return rule.port_range_min, rule.port_range_max


def group_rule(rule: ServerGroupRule) -> dict[str, Any]:
    from_port, to_port = _ports(rule)
    body: dict[str, Any] = {
        "id": rule.id,
        "parent_group_id": rule.group_id,
        "ip_protocol": rule.protocol,
        "from_port": from_port,
        "to_port": to_port,
        "group": {},
        "ip_range": {},
    }
    if rule.remote_group is not None:
        name, project_id = rule.remote_group
        body["group"] = {"name": name, "tenant_id": project_id}
    elif rule.remote_ip_prefix:
        body["ip_range"] = {"cidr": rule.remote_ip_prefix}
    return body


def security_group(group: ServerSecurityGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "tenant_id": group.project_id,
        "rules": [group_rule(rule) for rule in group.rules],
    }


def security_groups(groups: Sequence[ServerSecurityGroup]) -> list[dict[str, Any]]:
    """Sorted by project, then name, as Nova lists them."""
    return [security_group(g) for g in sorted(groups, key=lambda g: (g.project_id, g.name))]
