"""The metadata service on a served sim gateway, spoken to on its unix socket as a backend's
proxy speaks to it: the proxy names the network and the source address, and the service
answers for the server that holds that address there, and for no one else."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.servers.conftest import IMAGE, REGION, boot, wait_gone, wait_status
from tests.support.compute import cli_json, server_active
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created, neutron_of
from tests.support.volume import cinder, create_volume
from tests.support.waiting import eventually

NETWORK_HEADER = "X-Interstack-Network-Id"
SOURCE_HEADER = "X-Forwarded-For"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx4rYQnIbq0l2hZ7bW1gkMJ0kq7cP0bQ2Ck1sm3Y8gm t@h"
USER_DATA = b"#cloud-config\nruncmd:\n  - [touch, /run/user-data-ran]\n"


@pytest.fixture(scope="module")
def proxy(compute_gateway: ServedGateway) -> Iterator[httpx.Client]:
    """A client on the region's metadata socket, where only the backend's proxies connect."""
    socket = compute_gateway.data_dir / "backends" / REGION / "metadata.sock"
    assert socket.is_socket()
    assert socket.stat().st_mode & 0o777 == 0o600
    transport = httpx.HTTPTransport(uds=str(socket))
    with httpx.Client(transport=transport, base_url="http://169.254.169.254", timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def network(compute_gateway: ServedGateway, member: Member) -> dict[str, Any]:
    with neutron_of(compute_gateway, member) as net_api:
        net = created(
            net_api.post("/networks", json={"network": {"name": unique("md")}}), "network"
        )
        body: dict[str, Any] = {"network_id": net["id"], "cidr": "10.61.0.0/24", "ip_version": 4}
        # IPAM chooses at random: .250 is outside the pool, so no server ever holds it
        body["allocation_pools"] = [{"start": "10.61.0.2", "end": "10.61.0.200"}]
        body["dns_nameservers"] = ["10.61.0.53"]
        created(net_api.post("/subnets", json={"subnet": body}), "subnet")
        return net


def new_keypair(api: httpx.Client, public_key: str) -> str:
    body = {"keypair": {"name": unique("k"), "public_key": public_key}}
    created_key = api.post("/os-keypairs", json=body)
    assert created_key.status_code == 201, created_key.text
    name: str = created_key.json()["keypair"]["name"]
    return name


@pytest.fixture(scope="module")
def servers(
    api: httpx.Client, compute_gateway: ServedGateway, member: Member, network: dict[str, Any]
) -> list[dict[str, Any]]:
    """Two ACTIVE servers on the network, the first with a keypair and user data."""
    first = boot(
        api,
        "Web Server_1",
        networks=[{"uuid": network["id"]}],
        key_name=new_keypair(api, PUBLIC_KEY),
        user_data=base64.b64encode(USER_DATA).decode(),
        metadata={"role": "web"},
    )
    second = boot(api, unique("db"), networks=[{"uuid": network["id"]}])
    found = []
    with neutron_of(compute_gateway, member) as net_api:
        for server_id in (first, second):
            server = wait_status(api, server_id, "ACTIVE")
            ports = net_api.get("/ports", params={"device_id": server_id}).json()["ports"]
            server["port"] = ports[0]
            server["address"] = ports[0]["fixed_ips"][0]["ip_address"]
            found.append(server)
    return found


def ask(
    proxy: httpx.Client, network_id: str, address: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {NETWORK_HEADER: network_id, SOURCE_HEADER: address}
    return proxy.request(kwargs.pop("method", "GET"), path, headers=headers, **kwargs)


def test_meta_data_json_is_the_callers_own(
    proxy: httpx.Client, network: dict[str, Any], servers: list[dict[str, Any]], member: Member
) -> None:
    first, second = servers
    answer = ask(proxy, network["id"], first["address"], "/openstack/latest/meta_data.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    meta = answer.json()
    assert meta["uuid"] == first["id"]
    assert meta["name"] == "Web Server_1"
    assert meta["hostname"] == "web-server-1.novalocal"
    assert meta["project_id"] == member.project_id
    assert meta["availability_zone"] == "nova"
    assert meta["launch_index"] == 0
    assert meta["meta"] == {"role": "web"}
    assert meta["devices"] == []
    name = first["key_name"]
    assert meta["public_keys"] == {name: PUBLIC_KEY}
    assert meta["keys"] == [{"name": name, "type": "ssh", "data": PUBLIC_KEY}]
    assert len(base64.b64decode(meta["random_seed"])) == 512

    other = ask(proxy, network["id"], second["address"], "/openstack/latest/meta_data.json")
    assert other.json()["uuid"] == second["id"]
    assert "public_keys" not in other.json()


def test_the_metadata_hostname_is_the_one_the_api_shows(
    compute_gateway: ServedGateway,
    api: httpx.Client,
    proxy: httpx.Client,
    network: dict[str, Any],
    net_api: httpx.Client,
) -> None:
    """One rule for a guest's host name: a name whose '@' and '.' earlier rules treated
    differently shows the same host name in the API (to an admin, through openstacksdk and
    the ``openstack`` CLI) and in the metadata cloud-init reads."""
    server_id = boot(api, "db@2.Store", networks=[{"uuid": network["id"]}])
    try:
        wait_status(api, server_id, "ACTIVE")
        admin = compute_gateway.connect("interstack-admin", region_name=REGION)
        assert admin.compute.get_server(server_id).hostname == "db2-store"
        shown = cli_json(compute_gateway, "interstack-admin", "server", "show", server_id,
                         extra=["--os-compute-api-version", "2.79"])  # fmt: skip
        assert shown["OS-EXT-SRV-ATTR:hostname"] == "db2-store"
        port = net_api.get("/ports", params={"device_id": server_id}).json()["ports"][0]
        address = port["fixed_ips"][0]["ip_address"]
        meta = ask(proxy, network["id"], address, "/openstack/latest/meta_data.json")
        assert meta.json()["hostname"] == "db2-store.novalocal"
    finally:
        assert api.delete(f"/servers/{server_id}").status_code == 204
        wait_gone(api, server_id)


def test_an_address_that_is_no_servers_is_a_404_and_unvouched_requests_a_400(
    proxy: httpx.Client, network: dict[str, Any], servers: list[dict[str, Any]]
) -> None:
    first = servers[0]
    stranger = ask(proxy, network["id"], "10.61.0.250", "/openstack/latest/meta_data.json")
    assert stranger.status_code == 404
    assert "Traceback" not in stranger.text
    # the right address on another network is someone else (or no one)
    elsewhere = ask(proxy, unique("net"), first["address"], "/openstack/latest/meta_data.json")
    assert elsewhere.status_code == 404
    bare = proxy.get("/openstack/latest/meta_data.json")
    assert bare.status_code == 400
    # two source headers (one the guest's own, one the proxy's) are never guessed between
    doubled = proxy.get(
        "/openstack/latest/meta_data.json",
        headers=[
            (NETWORK_HEADER, network["id"]),
            (SOURCE_HEADER, servers[1]["address"]),
            (SOURCE_HEADER, first["address"]),
        ],
    )
    assert doubled.status_code == 400


def test_version_listings_and_user_data(
    proxy: httpx.Client, network: dict[str, Any], servers: list[dict[str, Any]]
) -> None:
    first, second = servers
    listing = ask(proxy, network["id"], first["address"], "/openstack").text.splitlines()
    assert listing[0] == "2012-08-10" and "2013-10-17" in listing and listing[-1] == "latest"
    files = ask(proxy, network["id"], first["address"], "/openstack/latest/").text.splitlines()
    assert files == [
        "meta_data.json",
        "user_data",
        "password",
        "vendor_data.json",
        "network_data.json",
        "vendor_data2.json",
    ]
    old = ask(proxy, network["id"], first["address"], "/openstack/2012-08-10").text.splitlines()
    assert old == ["meta_data.json", "user_data"]
    dated = ask(proxy, network["id"], first["address"], "/openstack/2013-10-17/meta_data.json")
    assert dated.json()["uuid"] == first["id"] and "project_id" not in dated.json()
    user_data = ask(proxy, network["id"], first["address"], "/openstack/latest/user_data")
    assert user_data.content == USER_DATA
    none = ask(proxy, network["id"], second["address"], "/openstack/latest/user_data")
    assert none.status_code == 404
    for name in ("vendor_data.json", "vendor_data2.json"):
        assert ask(proxy, network["id"], first["address"], f"/openstack/latest/{name}").json() == {}
    future = ask(proxy, network["id"], first["address"], "/openstack/2999-01-01/meta_data.json")
    assert future.status_code == 404


def test_network_data_describes_the_servers_port(
    proxy: httpx.Client, network: dict[str, Any], servers: list[dict[str, Any]]
) -> None:
    first = servers[0]
    port = first["port"]
    data = ask(proxy, network["id"], first["address"], "/openstack/latest/network_data.json").json()
    assert data["links"] == [
        {
            "id": f"tap{port['id'][:11]}",
            "vif_id": port["id"],
            "type": "bridge",
            "mtu": network["mtu"],
            "ethernet_mac_address": port["mac_address"],
        }
    ]
    assert data["networks"] == [
        {
            "id": "network0",
            "type": "ipv4_dhcp",
            "link": f"tap{port['id'][:11]}",
            "network_id": network["id"],
        }
    ]
    assert data["services"] == [{"type": "dns", "address": "10.61.0.53"}]


def test_tagged_disks_and_nics_are_devices_in_meta_data(
    conn: Any,
    compute_gateway: ServedGateway,
    member: Member,
    proxy: httpx.Client,
    network: dict[str, Any],
) -> None:
    """Tagged through openstacksdk (boot networks and block_device_mapping_v2, attach), as a
    user's tooling tags them; read as the guest reads them."""
    scratch = {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
               "boot_index": -1, "tag": "scratch"}  # fmt: skip
    server = conn.compute.create_server(
        name=unique("tagged"),
        image_id=IMAGE,
        flavor_id="1",
        networks=[{"uuid": network["id"], "tag": "uplink"}],
        block_device_mapping=[scratch],
    )
    server_id = server.id
    server_active(conn, server)
    with cinder(compute_gateway, member.token(compute_gateway), member.project_id) as volumes:
        data = create_volume(volumes)["id"]
    attached = conn.compute.create_volume_attachment(server_id, volume_id=data, tag="db")
    assert attached.tag == "db"
    found = conn.compute.volume_attachments(server_id)
    by_tag = {a.tag: {"volumeId": a.volume_id, "device": a.device} for a in found}
    assert set(by_tag) == {"scratch", "db"}
    with neutron_of(compute_gateway, member) as net_api:
        port = net_api.get("/ports", params={"device_id": server_id}).json()["ports"][0]
    address = port["fixed_ips"][0]["ip_address"]

    def devices() -> list[dict[str, Any]]:
        meta = ask(proxy, network["id"], address, "/openstack/latest/meta_data.json").json()
        listed: list[dict[str, Any]] = meta["devices"]
        return listed

    listed = eventually(devices, lambda d: len(d) == 3, "the attached volume among the devices")
    disk = {"type": "disk", "bus": "none", "address": "none"}
    assert listed == [
        disk | {"serial": by_tag["scratch"]["volumeId"], "path": "/dev/vdb", "tags": ["scratch"]},
        disk | {"serial": data, "path": by_tag["db"]["device"], "tags": ["db"]},
        {
            "vf_trusted": False,
            "type": "nic",
            "mac": port["mac_address"],
            "bus": "none",
            "address": "none",
            "tags": ["uplink"],
        },
    ]
    newton = ask(proxy, network["id"], address, "/openstack/2016-06-30/meta_data.json").json()
    assert [d["tags"] for d in newton["devices"]] == [["scratch"], ["db"], ["uplink"]]
    assert "vf_trusted" not in newton["devices"][2]


def test_ec2_tree(
    proxy: httpx.Client, network: dict[str, Any], servers: list[dict[str, Any]]
) -> None:
    first = servers[0]

    def ec2(path: str) -> str:
        answer = ask(proxy, network["id"], first["address"], path)
        assert answer.status_code == 200, (path, answer.text)
        return answer.text

    assert ec2("/").splitlines()[-2:] == ["2009-04-04", "latest"]
    assert ec2("/latest").splitlines() == ["meta-data/", "user-data"]
    listing = ec2("/latest/meta-data/").splitlines()
    for entry in ("instance-id", "hostname", "local-ipv4", "public-keys/", "placement/", "ami-id"):
        assert entry in listing
    assert ec2("/latest/meta-data/instance-id") == f"i-{first['id'].replace('-', '')[:8]}"
    assert ec2("/latest/meta-data/local-ipv4") == first["address"]
    assert ec2("/latest/meta-data/public-ipv4") == ""
    assert ec2("/latest/meta-data/hostname") == "web-server-1.novalocal"
    assert ec2("/latest/meta-data/placement/availability-zone") == "nova"
    assert ec2("/latest/meta-data/public-keys/") == f"0={first['key_name']}"
    assert ec2("/latest/meta-data/public-keys/0/") == "openssh-key"
    assert ec2("/latest/meta-data/public-keys/0/openssh-key") == PUBLIC_KEY
    assert ec2("/latest/user-data").encode() == USER_DATA
    assert ec2("/2009-04-04/meta-data/instance-type") == "m1.tiny"
    missing = ask(proxy, network["id"], first["address"], "/latest/meta-data/no-such-item")
    assert missing.status_code == 404


def test_password_is_posted_once_by_the_guest(
    proxy: httpx.Client, network: dict[str, Any], servers: list[dict[str, Any]]
) -> None:
    second = servers[1]
    path = "/openstack/latest/password"
    assert ask(proxy, network["id"], second["address"], path).text == ""
    posted = ask(proxy, network["id"], second["address"], path, method="POST", content=b"c2VjcmV0")
    assert posted.status_code == 200, posted.text
    again = ask(proxy, network["id"], second["address"], path, method="POST", content=b"other")
    assert again.status_code == 409
    assert ask(proxy, network["id"], second["address"], path).text == "c2VjcmV0"
    # the other server's password is its own (none)
    assert ask(proxy, network["id"], servers[0]["address"], path).text == ""
    too_big = ask(
        proxy, network["id"], servers[0]["address"], path, method="POST", content=b"x" * 2000
    )
    assert too_big.status_code == 400
    assert ask(proxy, network["id"], servers[0]["address"], path).text == ""
    elsewhere = ask(
        proxy, network["id"], second["address"], "/openstack/latest/meta_data.json", method="POST"
    )
    assert elsewhere.status_code == 405


def test_metadata_socket_is_not_served_over_tcp(
    compute_gateway: ServedGateway, network: dict[str, Any], servers: list[dict[str, Any]]
) -> None:
    """The gateway's public port never answers metadata, whatever headers a caller sends."""
    answer = httpx.get(
        f"{compute_gateway.url}/openstack/latest/meta_data.json",
        headers={NETWORK_HEADER: network["id"], SOURCE_HEADER: servers[0]["address"]},
    )
    assert answer.status_code == 404
    assert servers[0]["id"] not in answer.text
    assert json.loads(answer.text)  # the gateway's own JSON fault, not metadata


def test_a_rebuild_is_answered_at_once_with_the_new_key_and_user_data(
    api: httpx.Client, net_api: httpx.Client, proxy: httpx.Client, network: dict[str, Any]
) -> None:
    """The crawl of the boot before the rebuild is answered from what it read; the first
    request after the rebuild already gets the new key, user data and metadata."""
    other_key = PUBLIC_KEY.replace("t@h", "rebuilt@h")
    first_key, second_key = new_keypair(api, PUBLIC_KEY), new_keypair(api, other_key)
    server_id = boot(
        api,
        unique("rebuilt"),
        networks=[{"uuid": network["id"]}],
        key_name=first_key,
        user_data=base64.b64encode(USER_DATA).decode(),
        metadata={"boot": "1"},
    )
    wait_status(api, server_id, "ACTIVE")
    ports = net_api.get("/ports", params={"device_id": server_id}).json()["ports"]
    address = ports[0]["fixed_ips"][0]["ip_address"]

    def meta() -> dict[str, Any]:
        answer = ask(proxy, network["id"], address, "/openstack/latest/meta_data.json")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    assert meta()["public_keys"] == {first_key: PUBLIC_KEY}
    assert ask(proxy, network["id"], address, "/latest/user-data").content == USER_DATA

    new_user_data = b"#!/bin/sh\necho rebuilt\n"
    rebuild: dict[str, Any] = {
        "imageRef": IMAGE,
        "key_name": second_key,
        "user_data": base64.b64encode(new_user_data).decode(),
        "metadata": {"boot": "2"},
    }
    answer = api.post(f"/servers/{server_id}/action", json={"rebuild": rebuild})
    assert answer.status_code == 202, answer.text
    wait_status(api, server_id, "ACTIVE")
    rebuilt = meta()
    assert rebuilt["public_keys"] == {second_key: other_key}
    assert rebuilt["keys"] == [{"name": second_key, "type": "ssh", "data": other_key}]
    assert rebuilt["meta"] == {"boot": "2"}
    assert ask(proxy, network["id"], address, "/openstack/latest/user_data").content == (
        new_user_data
    )
    ec2_key = ask(proxy, network["id"], address, "/latest/meta-data/public-keys/0/openssh-key")
    assert ec2_key.text == other_key

    # and a rebuild without a key (2.54 on) leaves the guest none
    rebuild = {"imageRef": IMAGE, "key_name": None}
    answer = api.post(f"/servers/{server_id}/action", json={"rebuild": rebuild})
    assert answer.status_code == 202, answer.text
    wait_status(api, server_id, "ACTIVE")
    keyless = meta()
    assert "public_keys" not in keyless and "keys" not in keyless
    missing = ask(proxy, network["id"], address, "/latest/meta-data/public-keys/")
    assert missing.status_code == 404


def test_an_address_given_to_another_server_answers_for_that_server_only(
    api: httpx.Client, net_api: httpx.Client, proxy: httpx.Client, network: dict[str, Any]
) -> None:
    """A port (and so its address) passed from a deleted server to a new one: the new one gets
    its own identity at once, none of the old one's key or user data."""
    port = created(net_api.post("/ports", json={"port": {"network_id": network["id"]}}), "port")
    address = port["fixed_ips"][0]["ip_address"]
    old = boot(
        api,
        unique("old"),
        networks=[{"port": port["id"]}],
        key_name=new_keypair(api, PUBLIC_KEY),
        user_data=base64.b64encode(USER_DATA).decode(),
    )
    wait_status(api, old, "ACTIVE")
    path = "/openstack/latest/meta_data.json"
    assert ask(proxy, network["id"], address, path).json()["uuid"] == old
    assert ask(proxy, network["id"], address, "/latest/user-data").content == USER_DATA

    assert api.delete(f"/servers/{old}").status_code == 204
    wait_gone(api, old)
    assert ask(proxy, network["id"], address, path).status_code == 404

    new = boot(api, unique("new"), networks=[{"port": port["id"]}])
    wait_status(api, new, "ACTIVE")
    meta = ask(proxy, network["id"], address, path).json()
    assert meta["uuid"] == new
    assert "public_keys" not in meta and "keys" not in meta
    assert ask(proxy, network["id"], address, "/openstack/latest/user_data").status_code == 404
    assert ask(proxy, network["id"], address, "/latest/meta-data/instance-id").text == (
        f"i-{new.replace('-', '')[:8]}"
    )


def test_a_port_of_another_project_naming_a_server_answers_nothing(
    api: httpx.Client,
    strangers_neutron: httpx.Client,
    proxy: httpx.Client,
    servers: list[dict[str, Any]],
) -> None:
    """Neutron lets a project give its port any device: a port another project makes with a
    server's id and a compute owner is not that server's, so what its guests send from its
    address (an allowed address pair) gets none of that server's data (Nova compares the
    port's project with the instance's)."""
    victim = servers[0]
    net = created(
        strangers_neutron.post("/networks", json={"network": {"name": unique("md-other")}}),
        "network",
    )
    body = {"network_id": net["id"], "cidr": "10.62.0.0/24", "ip_version": 4}
    created(strangers_neutron.post("/subnets", json={"subnet": body}), "subnet")
    port = {"network_id": net["id"], "device_owner": "compute:nova", "device_id": victim["id"]}
    made = created(strangers_neutron.post("/ports", json={"port": port}), "port")
    address = made["fixed_ips"][0]["ip_address"]
    for path in (
        "/openstack/latest/meta_data.json",
        "/openstack/latest/user_data",
        "/openstack/latest/password",
        "/latest/meta-data/public-keys/0/openssh-key",
    ):
        answer = ask(proxy, net["id"], address, path)
        assert answer.status_code == 404, f"{path}: {answer.status_code} {answer.text}"
        assert victim["id"] not in answer.text
    # nor is it among the server's addresses
    shown = api.get(f"/servers/{victim['id']}").json()["server"]["addresses"]
    assert net["name"] not in shown
    assert address not in {a["addr"] for addresses in shown.values() for a in addresses}
