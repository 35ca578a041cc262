"""The EC2 format: a tree of plain-text items under ``/<version>/meta-data/``, as Nova serves it.

A directory lists its entries one a line, subdirectories with a trailing ``/``; the public
keys directory is EC2's odd one: ``public-keys/`` lists ``0=<key name>`` and
``public-keys/0/`` lists ``openssh-key``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Union

from interstack.metadata.openstack import fqdn
from interstack.metadata.versions import EC2_VERSIONS, at_least
from interstack.services.metadata.records import Instance

Tree = dict[str, "Node"]
Node = Union[str, list[str], "Directory"]


@dataclass(frozen=True)
class Directory:
    entries: Tree
    #: what the parent's listing shows for this directory instead of ``<name>/``
    listed_as: str | None = None


def _since(version: str, required: str) -> bool:
    return at_least(version, required, EC2_VERSIONS)


def ec2_id(prefix: str, uuid: str) -> str:
    """An EC2-style id (``i-…``, ``ami-…``) from a gateway UUID: its first 32 bits in hex."""
    return f"{prefix}-{uuid.replace('-', '')[:8]}"


def _first(addresses: list[str], version: int) -> str:
    return next((a for a in addresses if ipaddress.ip_address(a).version == version), "")


def tree(instance: Instance, version: str) -> Directory:
    """``/<version>/``: ``meta-data/`` and, if the server has user data, ``user-data``."""
    top: Tree = {"meta-data": meta_data(instance, version)}
    if instance.user_data is not None:
        top["user-data"] = instance.user_data.decode("utf-8", errors="replace")
    return Directory(top)


def meta_data(instance: Instance, version: str) -> Directory:
    fixed = [f.address for p in instance.ports for f in p.fixed]
    if instance.requester in fixed:  # the address the guest asked from comes first
        fixed.remove(instance.requester)
        fixed.insert(0, instance.requester)
    floating = [a for p in instance.ports for a in p.floating]
    hostname = fqdn(instance)
    items: Tree = {
        "ami-id": ec2_id("ami", instance.image_id) if instance.image_id else "",
        "ami-launch-index": str(instance.launch_index),
        "ami-manifest-path": "FIXME",  # what Nova answers: there is no manifest
        "hostname": hostname,
        "instance-id": ec2_id("i", instance.id),
        "local-ipv4": _first(fixed, 4),
        "reservation-id": instance.reservation_id,
        "security-groups": list(instance.security_groups),
    }
    if instance.key is not None:
        key = Directory({"openssh-key": instance.key.public_key}, f"0={instance.key.name}")
        items["public-keys"] = Directory({"0": key})
    if _since(version, "2007-01-19"):
        items["local-hostname"] = hostname
        items["public-hostname"] = hostname
        items["public-ipv4"] = _first(floating, 4)
    if _since(version, "2007-08-29"):
        items["instance-type"] = instance.flavor_name
    if _since(version, "2007-12-15"):
        items["block-device-mapping"] = block_device_mapping(instance)
    if _since(version, "2008-02-01"):
        items["placement"] = Directory({"availability-zone": instance.availability_zone})
    if _since(version, "2008-09-01"):
        items["instance-action"] = "none"
    return Directory(items)


def block_device_mapping(instance: Instance) -> Directory:
    """``block-device-mapping/`` as Nova's ``instance_block_mapping`` gives it: the root
    (``ami`` its name without ``/dev/``), and the server's ephemeral and swap disks by their
    virtual names (``ephemeral0: /dev/vdb``, ``swap: /dev/vdc``), which is how cloud-init
    finds the disk its ``mounts`` put at ``/mnt`` by default."""
    root = instance.root_device
    mapping: Tree = {"ami": root.removeprefix("/dev/"), "root": root}
    for name, device in instance.local_disks:
        mapping[name] = device
    return Directory(mapping)


def render(node: Node) -> str:
    """A leaf's text, or a directory's listing (sorted, as EC2 lists)."""
    if isinstance(node, Directory):
        lines = []
        for name in sorted(node.entries):
            child = node.entries[name]
            if isinstance(child, Directory):
                lines.append(child.listed_as or f"{name}/")
            else:
                lines.append(name)
        return "\n".join(lines)
    if isinstance(node, list):
        return "\n".join(node)
    return node


def find(root: Directory, path: list[str]) -> Node | None:
    """The node at ``path`` under ``root``, or None."""
    node: Node = root
    for part in path:
        if not isinstance(node, Directory) or part not in node.entries:
            return None
        node = node.entries[part]
    return node
