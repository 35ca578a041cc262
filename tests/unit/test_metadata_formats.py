"""The metadata formats rendered from one instance record: a static (no DHCP) subnet's
network_data.json, and a config drive holding every version's files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from interstack.metadata import openstack
from interstack.metadata.configdrive import ConfigDriveFiles
from interstack.services.metadata.records import (
    FixedAddress,
    Instance,
    InstanceDisk,
    InstanceKey,
    InstancePort,
    SubnetFacts,
)

STATIC = SubnetFacts(
    id="sub-4",
    cidr="10.1.0.0/24",
    ip_version=4,
    gateway_ip="10.1.0.1",
    dhcp=False,
    dns_nameservers=("10.1.0.53",),
    host_routes=(("192.168.0.0/16", "10.1.0.254"),),
)
V6 = SubnetFacts(
    id="sub-6",
    cidr="fd00:1::/64",
    ip_version=6,
    gateway_ip=None,
    dhcp=True,
    dns_nameservers=(),
    host_routes=(),
)
INSTANCE = Instance(
    id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    name="web",
    hostname="web",
    region="RegionOne",
    project_id="p1",
    availability_zone="nova",
    metadata={},
    launch_index=0,
    reservation_id="r-1",
    image_id=None,
    flavor_name="m1.tiny",
    user_data=b"#!/bin/sh\necho hi\n",
    key=InstanceKey("k", "ssh", "ssh-ed25519 AAAA k@h"),
    security_groups=("default",),
    ports=(
        InstancePort(
            id="1234567890abcdef",
            network_id="net-1",
            mac_address="fa:16:3e:00:00:01",
            mtu=1450,
            fixed=(FixedAddress("10.1.0.5", STATIC), FixedAddress("fd00:1::5", V6)),
            floating=("203.0.113.9",),
        ),
    ),
    created_at=datetime(2026, 11, 25),
)


def test_a_static_subnet_is_described_with_its_address_and_routes() -> None:
    data = openstack.network_data(INSTANCE)
    v4, v6 = data["networks"]
    assert v4 == {
        "id": "network0",
        "type": "ipv4",
        "link": "tap1234567890a",
        "ip_address": "10.1.0.5",
        "netmask": "255.255.255.0",
        "routes": [
            {"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.1.0.1"},
            {"network": "192.168.0.0", "netmask": "255.255.0.0", "gateway": "10.1.0.254"},
        ],
        "network_id": "net-1",
        "services": [{"type": "dns", "address": "10.1.0.53"}],
    }
    assert v6["type"] == "ipv6" and v6["ip_address"] == "fd00:1::5" and v6["routes"] == []
    assert data["links"][0]["mtu"] == 1450
    assert data["services"] == [{"type": "dns", "address": "10.1.0.53"}]


class _Lookup:
    def by_server(self, region: str, server_id: str) -> Instance | None:
        return INSTANCE if (region, server_id) == ("RegionOne", INSTANCE.id) else None


def test_a_config_drive_holds_every_version_and_the_ec2_tree() -> None:
    drive = ConfigDriveFiles(_Lookup()).files("RegionOne", INSTANCE.id)  # type: ignore[arg-type]
    meta = json.loads(drive["openstack/latest/meta_data.json"])
    assert meta["uuid"] == INSTANCE.id and meta["public_keys"] == {"k": "ssh-ed25519 AAAA k@h"}
    assert drive["openstack/2012-08-10/user_data"] == INSTANCE.user_data
    assert "openstack/2012-08-10/network_data.json" not in drive
    assert "openstack/2015-10-15/network_data.json" in drive
    assert not any(name.endswith("/password") for name in drive)
    ec2 = json.loads(drive["ec2/latest/meta-data.json"])
    assert ec2["public-ipv4"] == "203.0.113.9" and ec2["local-ipv4"] == "10.1.0.5"
    assert ec2["placement"] == {"availability-zone": "nova"}
    assert drive["ec2/2009-04-04/user-data"] == INSTANCE.user_data
    assert ConfigDriveFiles(_Lookup()).files("RegionOne", "other") == {}  # type: ignore[arg-type]


def test_tagged_devices_are_listed_from_2016_06_30_and_untagged_ones_are_not() -> None:
    nic = replace(INSTANCE.ports[0], tag="uplink")
    untagged = replace(INSTANCE.ports[0], id="other", mac_address="fa:16:3e:00:00:02")
    disk = InstanceDisk(volume_id="vol-1", path="/dev/vdb", tag="data")
    tagged = replace(INSTANCE, ports=(nic, untagged), disks=(disk,))
    assert "devices" not in openstack.meta_data(tagged, "2015-10-15")
    assert openstack.meta_data(tagged, "2016-06-30")["devices"] == [
        {
            "type": "disk",
            "serial": "vol-1",
            "path": "/dev/vdb",
            "bus": "none",
            "address": "none",
            "tags": ["data"],
        },
        {
            "type": "nic",
            "mac": "fa:16:3e:00:00:01",
            "bus": "none",
            "address": "none",
            "tags": ["uplink"],
        },
    ]
    latest = openstack.meta_data(tagged, "2020-10-14")["devices"]
    assert [d.get("vf_trusted") for d in latest] == [None, False]
    assert openstack.meta_data(INSTANCE, "2020-10-14")["devices"] == []
