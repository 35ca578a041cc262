"""The OpenStack format: the files under ``/openstack/<version>/``, shaped as Nova shapes them.

:func:`files` is the whole tree of one version (what a listing shows and what a config drive
holds); the password is not a file here, the app answers it live.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
from typing import Any

from interstack.metadata.versions import (
    GRIZZLY,
    HAVANA,
    LIBERTY,
    NEWTON_ONE,
    NEWTON_TWO,
    OPENSTACK_VERSIONS,
    ROCKY,
    VICTORIA,
    at_least,
)
from interstack.services.metadata.records import FixedAddress, Instance, InstancePort

META_DATA = "meta_data.json"
USER_DATA = "user_data"
PASSWORD = "password"  # noqa: S105 - the name of the file, not a password
VENDOR_DATA = "vendor_data.json"
VENDOR_DATA2 = "vendor_data2.json"
NETWORK_DATA = "network_data.json"
#: Nova's default ``dhcp_domain``: the guest's FQDN is ``<hostname>.novalocal``
DHCP_DOMAIN = "novalocal"
#: how a link is realized on the host (Nova's VIF type): a Linux bridge
LINK_TYPE = "bridge"
#: a tagged device's bus and address, as Nova writes them when the hypervisor reports none:
#: no backend here gives a guest a device on a bus it can name (a local guest's NIC is a veth
#: and its disks are block devices passed into a container; sim has no hardware; EC2 does not
#: say where it puts an ENI or an EBS volume), so a guest finds its devices by MAC or serial
NO_BUS = "none"
NO_ADDRESS = "none"


def _since(version: str, required: str) -> bool:
    return at_least(version, required, OPENSTACK_VERSIONS)


def entries(instance: Instance, version: str) -> list[str]:
    """What ``/openstack/<version>/`` lists, in Nova's order."""
    found = [META_DATA]
    if instance.user_data is not None:
        found.append(USER_DATA)
    if _since(version, GRIZZLY):
        found.append(PASSWORD)
    if _since(version, HAVANA):
        found.append(VENDOR_DATA)
    if _since(version, LIBERTY):
        found.append(NETWORK_DATA)
    if _since(version, NEWTON_TWO):
        found.append(VENDOR_DATA2)
    return found


def files(instance: Instance, version: str) -> dict[str, bytes]:
    """Every file of ``version`` but the password, by name."""
    found: dict[str, bytes] = {META_DATA: _json(meta_data(instance, version))}
    if instance.user_data is not None:
        found[USER_DATA] = instance.user_data
    if _since(version, HAVANA):
        found[VENDOR_DATA] = _json({})
    if _since(version, LIBERTY):
        found[NETWORK_DATA] = _json(network_data(instance))
    if _since(version, NEWTON_TWO):
        found[VENDOR_DATA2] = _json({})
    return found


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def fqdn(instance: Instance) -> str:
    return f"{instance.hostname}.{DHCP_DOMAIN}"


def meta_data(instance: Instance, version: str) -> dict[str, Any]:
    document: dict[str, Any] = {"uuid": instance.id, "meta": dict(instance.metadata)}
    if instance.key is not None:
        document["public_keys"] = {instance.key.name: instance.key.public_key}
        document["keys"] = [
            {"name": instance.key.name, "type": instance.key.type, "data": instance.key.public_key}
        ]
    document.update(
        hostname=fqdn(instance),
        name=instance.name,
        launch_index=instance.launch_index,
        availability_zone=instance.availability_zone,
    )
    if _since(version, GRIZZLY):
        document["random_seed"] = base64.b64encode(os.urandom(512)).decode()
    if _since(version, LIBERTY):
        document["project_id"] = instance.project_id
    if _since(version, NEWTON_ONE):
        document["devices"] = devices(instance, version)
    if _since(version, VICTORIA):
        document["dedicated_cpus"] = []
    return document


def devices(instance: Instance, version: str) -> list[dict[str, Any]]:
    """The tagged devices (Nova's device role tagging): disks, then NICs, as libvirt lists them.

    A disk's ``serial`` is its volume's id, as Nova sets it; ``path`` is the device it was
    attached at. Only devices given a tag are shown; ``vf_trusted`` (2018-08-27 on) is false
    since no port here is an SR-IOV virtual function, and no port carries a VLAN to show.
    """
    found: list[dict[str, Any]] = []
    for disk in instance.disks:
        entry: dict[str, Any] = {"type": "disk", "serial": disk.volume_id}
        if disk.path:
            entry["path"] = disk.path
        found.append(entry | {"bus": NO_BUS, "address": NO_ADDRESS, "tags": [disk.tag]})
    for port in instance.ports:
        if port.tag is None:
            continue
        entry = {"vf_trusted": False} if _since(version, ROCKY) else {}
        entry |= {"type": "nic", "mac": port.mac_address}
        found.append(entry | {"bus": NO_BUS, "address": NO_ADDRESS, "tags": [port.tag]})
    return found


def link_id(port: InstancePort) -> str:
    """The interface's name as Nova's VIFs carry it: ``tap`` and the port id's start."""
    return f"tap{port.id[:11]}"


def network_data(instance: Instance) -> dict[str, Any]:
    """Links (one per port), networks (one per fixed address), services (DNS servers)."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    dns: list[str] = []
    for port in instance.ports:
        link = link_id(port)
        links.append(
            {
                "id": link,
                "vif_id": port.id,
                "type": LINK_TYPE,
                "mtu": port.mtu,
                "ethernet_mac_address": port.mac_address,
            }
        )
        for fixed in port.fixed:
            network = _network(f"network{len(networks)}", link, port.network_id, fixed)
            networks.append(network)
            dns += [d for d in fixed.subnet.dns_nameservers if d not in dns]
    return {
        "links": links,
        "networks": networks,
        "services": [{"type": "dns", "address": address} for address in dns],
    }


def _network(name: str, link: str, network_id: str, fixed: FixedAddress) -> dict[str, Any]:
    subnet = fixed.subnet
    version = subnet.ip_version
    if subnet.dhcp and version == 4:
        # the guest asks DHCP for its address, as Nova tells it to for such a subnet
        return {"id": name, "type": "ipv4_dhcp", "link": link, "network_id": network_id}
    cidr = ipaddress.ip_network(subnet.cidr, strict=False)
    routes: list[dict[str, str]] = []
    if subnet.gateway_ip:
        default = "0.0.0.0" if version == 4 else "::"  # noqa: S104 - a route, not a bind
        routes.append({"network": default, "netmask": default, "gateway": subnet.gateway_ip})
    for destination, nexthop in subnet.host_routes:
        route = ipaddress.ip_network(destination, strict=False)
        network, netmask = str(route.network_address), str(route.netmask)
        routes.append({"network": network, "netmask": netmask, "gateway": nexthop})
    return {
        "id": name,
        "type": f"ipv{version}",
        "link": link,
        "ip_address": fixed.address,
        "netmask": str(cidr.netmask),
        "routes": routes,
        "network_id": network_id,
        "services": [{"type": "dns", "address": a} for a in subnet.dns_nameservers],
    }
