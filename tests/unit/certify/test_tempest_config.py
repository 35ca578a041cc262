"""Picking images, flavors and networks from what a cloud lists, and the tempest.conf written."""

from __future__ import annotations

import configparser
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from interstack.certify import CertifyError, discovery
from interstack.certify.discovery import Choices, CloudFacts, Credentials, Found
from interstack.certify.resources import (
    login_user,
    pick_flavors,
    pick_images,
    pick_networks,
    volume_extensions,
)
from interstack.certify.tempest_config import write_tempest_files

PROJECT = "p1"


def thing(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**fields)


class Listing:
    """A proxy of openstacksdk's shape: a listing and ``find_*(name_or_id, ignore_missing)``."""

    def __init__(self, items: Iterable[SimpleNamespace]) -> None:
        self.items = list(items)

    def __call__(self) -> list[SimpleNamespace]:
        return self.items

    def find(self, name_or_id: str, ignore_missing: bool = True) -> SimpleNamespace | None:
        return next((i for i in self.items if name_or_id in {i.id, i.name}), None)


def net(id: str, name: str, external: bool, project: str) -> SimpleNamespace:
    return thing(id=id, name=name, is_router_external=external, project_id=project, is_shared=False)


def cloud(images: list[SimpleNamespace], flavors: list[SimpleNamespace]) -> SimpleNamespace:
    image_list, flavor_list = Listing(images), Listing(flavors)
    networks = Listing(
        [
            net("n1", "other", external=False, project="p2"),
            net("n2", "public", external=True, project="p0"),
            net("n3", "private", external=False, project=PROJECT),
        ]
    )
    return thing(
        current_project_id=PROJECT,
        image=thing(images=image_list, find_image=image_list.find),
        compute=thing(flavors=flavor_list, find_flavor=flavor_list.find),
        network=thing(networks=networks, find_network=networks.find),
    )


IMAGES = [
    thing(id="i1", name="debian", status="active", size=300),
    thing(id="i2", name="cirros-0.6", status="active", size=20),
    thing(id="i3", name="broken", status="queued", size=1),
]
FLAVORS = [
    thing(id="f3", name="large", ram=8192, vcpus=4, disk=80),
    thing(id="f1", name="tiny", ram=512, vcpus=1, disk=1),
    thing(id="f2", name="small", ram=2048, vcpus=1, disk=20),
]


def test_discovery_picks_cirros_the_smallest_flavors_and_the_projects_network() -> None:
    conn = cloud(IMAGES, FLAVORS)
    image, image_alt = pick_images(conn, Choices())
    assert (image, image_alt) == (Found("i2", "cirros-0.6"), Found("i1", "debian"))
    assert image is not None and image_alt is not None
    assert (image.login_user, image_alt.login_user) == ("cirros", "debian")
    assert pick_flavors(conn, Choices()) == (Found("f1", "tiny"), Found("f2", "small"))
    assert pick_networks(conn, Choices()) == (Found("n3", "private"), Found("n2", "public"))


def test_the_users_choice_wins_and_must_exist() -> None:
    conn = cloud(IMAGES, FLAVORS)
    image, _ = pick_images(conn, Choices(image="debian"))
    assert image == Found("i1", "debian")
    with pytest.raises(CertifyError, match="no flavor named or with id 'huge'"):
        pick_flavors(conn, Choices(flavor="huge"))


def test_nothing_to_pick_is_none_for_the_caller_to_name() -> None:
    conn = cloud([IMAGES[2]], [])
    assert pick_images(conn, Choices()) == (None, None)
    assert pick_flavors(conn, Choices()) == (None, None)


def facts(external: bool) -> CloudFacts:
    return CloudFacts(
        cloud="c",
        region="RegionOne",
        identity_uri="https://keystone.example/v3",
        cpid="cpid",
        credentials=Credentials(
            "demo", "secret", "demo", "Default", "Default", ("admin", "member")
        ),
        services={"identity": "x", "compute": "x", "image": "x", "network": "x", "volumev3": "x"},
        image=Found("i2", "cirros-0.6", "cirros"),
        image_alt=Found("i1", "debian", "debian"),
        flavor=Found("f1", "tiny"),
        flavor_alt=Found("f2", "small"),
        network=Found("n3", "private"),
        external_network=Found("n2", "public") if external else None,
        compute_microversions=("2.1", "2.90"),
    )


def read(path: Path) -> configparser.ConfigParser:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(path)
    return conf


def test_tempest_conf_for_a_compute_cloud(tmp_path: Path) -> None:
    files = write_tempest_files(facts(external=True), tmp_path)
    conf = read(files.config)
    assert conf["identity"]["uri_v3"] == "https://keystone.example/v3"
    assert conf["identity"]["region"] == "RegionOne"
    assert conf["auth"]["use_dynamic_credentials"] == "false"
    assert conf["compute"]["image_ref"] == "i2" and conf["compute"]["image_ref_alt"] == "i1"
    assert conf["compute"]["flavor_ref_alt"] == "f2"
    assert conf["compute"]["max_microversion"] == "2.90"
    assert conf["compute"]["fixed_network_name"] == "private"
    assert conf["network"]["public_network_id"] == "n2"
    assert conf["validation"]["run_validation"] == "true"
    assert conf["validation"]["image_ssh_user"] == "cirros"
    assert conf["validation"]["image_alt_ssh_user"] == "debian"
    assert conf["validation"]["connect_method"] == "floating"
    assert conf["volume"]["catalog_type"] == "volumev3"
    assert conf["service_available"]["swift"] == "false"
    assert conf["service_available"]["nova"] == "true"
    # the image list tests upload random bytes: not skipped as unfit for an inspecting Glance
    assert conf["image-feature-enabled"]["image_format_enforcement"] == "false"
    assert files.accounts is not None
    assert files.accounts.stat().st_mode & 0o077 == 0  # the password stays ours
    primary, reader = yaml.safe_load(files.accounts.read_text())
    # one user for Tempest's two personas: entries that differ in how they name the project
    assert primary["project_name"] == reader["tenant_name"] == "demo"
    assert primary["username"] == reader["username"] == "demo"
    assert primary["password"] == "secret"
    assert primary["roles"] == ["member"]  # Tempest gives admin accounts to admin tests only


def test_no_external_network_turns_ssh_validation_off_and_says_so(tmp_path: Path) -> None:
    cloud_facts = facts(external=False)
    conf = read(write_tempest_files(cloud_facts, tmp_path).config)
    assert conf["validation"]["run_validation"] == "false"
    assert "network" not in conf
    assert any("--external-network" in note for note in cloud_facts.notes)


def test_validation_off_by_choice_keeps_the_external_network_for_the_router_tests(
    tmp_path: Path,
) -> None:
    """A cloud whose guests cannot be reached (sim) still has routers with gateways."""
    cloud_facts = facts(external=True)
    conf = read(write_tempest_files(cloud_facts, tmp_path, ssh_validation=False).config)
    assert conf["validation"]["run_validation"] == "false"
    assert conf["network"]["public_network_id"] == "n2"
    assert any("--no-ssh-validation" in note for note in cloud_facts.notes)


def test_validation_asked_for_without_an_external_network_uses_the_fixed_address(
    tmp_path: Path,
) -> None:
    conf = read(write_tempest_files(facts(external=False), tmp_path, ssh_validation=True).config)
    assert conf["validation"]["run_validation"] == "true"
    assert conf["validation"]["connect_method"] == "fixed"
    assert conf["validation"]["network_for_ssh"] == "private"


@pytest.mark.parametrize(
    ("image", "user"),
    [
        (thing(name="cirros-0.6.2-x86_64"), "cirros"),
        (thing(name="debian-12", os_distro="debian"), "debian"),
        (thing(name="golden", os_distro="ubuntu"), "ubuntu"),
        (thing(name="ubuntu-24.04", os_admin_user="admin"), "admin"),
        (thing(name="appliance"), None),
    ],
)
def test_the_login_user_comes_from_the_images_properties(image: Any, user: str | None) -> None:
    assert login_user(image) == user


def test_an_image_without_a_known_login_is_entered_as_root(tmp_path: Path) -> None:
    plain = replace(facts(external=True), image=Found("i9", "appliance"), image_alt=None)
    conf = read(write_tempest_files(plain, tmp_path, ssh_user=None).config)
    assert conf["validation"]["image_ssh_user"] == "root"
    assert "image_ssh_password" not in conf["validation"]


def test_the_volume_extensions_the_cloud_lists_become_api_extensions(tmp_path: Path) -> None:
    listed = thing(block_storage=thing(extensions=lambda: [thing(alias="os-vol-tenant-attr")]))
    cloud_facts = facts(external=True)
    assert "volume-feature-enabled" not in read(write_tempest_files(cloud_facts, tmp_path).config)
    found = replace(cloud_facts, volume_extensions=volume_extensions(listed))
    conf = read(write_tempest_files(found, tmp_path).config)
    assert conf["volume-feature-enabled"]["api_extensions"] == "os-vol-tenant-attr"


def test_a_cloud_without_an_extension_list_has_none() -> None:
    def refused() -> list[Any]:
        raise RuntimeError("404")

    assert volume_extensions(thing(block_storage=thing(extensions=refused))) == ()


def test_dynamic_credentials_with_an_admin(tmp_path: Path) -> None:
    admin = Credentials("admin", "s3", "admin", "Default", "Default", ("admin",))
    files = write_tempest_files(facts(external=True), tmp_path, admin)
    conf = read(files.config)
    assert files.accounts is None
    assert conf["auth"]["use_dynamic_credentials"] == "true"
    assert conf["auth"]["admin_username"] == "admin"


def fake_connection(catalog: list[dict[str, Any]], images: list[SimpleNamespace]) -> Any:
    access = thing(service_catalog=thing(catalog=catalog), role_names=["member"])
    auth = {"auth_url": "https://keystone.example:5000", "username": "demo"}
    auth |= {"password": "pw", "project_name": "demo"}
    connection = cloud(images, FLAVORS)
    connection.config = thing(get_region_name=lambda: "RegionOne", config={"auth": auth})
    connection.session = thing(auth=thing(get_access=lambda _session: access))
    return connection


def endpoint(kind: str, service_id: str = "") -> dict[str, Any]:
    url = f"https://{kind}.example"
    public = {"interface": "public", "region_id": "RegionOne", "url": url}
    return {"type": kind, "id": service_id or kind, "endpoints": [public]}


COMPUTE_CLOUD = [endpoint("identity", "ks-1"), endpoint("compute"), endpoint("image")]


def test_discovery_reads_the_catalog_and_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discovery, "connect", lambda _cloud: fake_connection(COMPUTE_CLOUD, IMAGES))
    found = discovery.discover("c", {"nova", "glance", "keystone"})
    assert found.cpid == "ks-1"  # RefStack's CPID: the identity service's id
    assert found.identity_uri == "https://keystone.example:5000/v3"
    assert found.image == Found("i2", "cirros-0.6") and found.flavor == Found("f1", "tiny")
    assert found.credentials.roles == ("member",)
    with pytest.raises(CertifyError, match="no block-storage/volumev3/volume service"):
        discovery.discover("c", {"nova", "cinder"})


def test_discovery_without_an_image_names_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "connect", lambda _cloud: fake_connection(COMPUTE_CLOUD, []))
    with pytest.raises(CertifyError, match=r"could not find an active image \(--image\)"):
        discovery.discover("c", {"nova"})


def test_network_capabilities_alone_get_the_external_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The routers' gateway tests need ``public_network_id`` without a server in sight."""
    network_cloud = [endpoint("identity", "ks-1"), endpoint("network")]
    monkeypatch.setattr(discovery, "connect", lambda _cloud: fake_connection(network_cloud, []))
    found = discovery.discover("c", {"neutron"})
    assert found.external_network == Found("n2", "public")
    assert found.image is None
    conf = read(write_tempest_files(found, tmp_path).config)
    assert conf["network"]["public_network_id"] == "n2"
    assert "compute" not in conf
