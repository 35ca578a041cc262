"""Picking the images, flavors and networks Tempest boots with, from what the cloud lists.

A user's choice (name or id) always wins and must exist; otherwise the smallest things that
boot: an active image (a cirros one when there is one) and an alternate, the two smallest
flavors, the project's own network and an external one for floating IPs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from interstack.certify import CertifyError

if TYPE_CHECKING:
    from interstack.certify.discovery import Choices, Found


# the default login of the distributions' cloud images (cloud-init's default user)
DISTRIBUTION_USERS = {
    "cirros": "cirros",
    "debian": "debian",
    "ubuntu": "ubuntu",
    "centos": "centos",
    "fedora": "fedora",
    "rocky": "rocky",
    "almalinux": "almalinux",
}


def _found(resource: Any) -> Found:
    from interstack.certify.discovery import Found

    return Found(id=str(resource.id), name=str(resource.name or resource.id))


def login_user(image: Any) -> str | None:
    """Who an image's guests let in: Glance's ``os_admin_user`` property, else the default
    user of its distribution (``os_distro``, else a distribution in its name)."""
    admin_user = getattr(image, "os_admin_user", None)
    if admin_user:
        return str(admin_user)
    distro = str(getattr(image, "os_distro", None) or "").lower()
    if distro in DISTRIBUTION_USERS:
        return DISTRIBUTION_USERS[distro]
    name = str(getattr(image, "name", None) or "").lower()
    return next((user for key, user in DISTRIBUTION_USERS.items() if key in name), None)


def _image(resource: Any) -> Found:
    from interstack.certify.discovery import Found

    return Found(str(resource.id), str(resource.name or resource.id), login_user(resource))


def _chosen(
    kind: str, finder: Any, name_or_id: str | None, found: Callable[[Any], Found] = _found
) -> Found | None:
    if name_or_id is None:
        return None
    resource = finder(name_or_id, ignore_missing=True)
    if resource is None:
        raise CertifyError(f"no {kind} named or with id {name_or_id!r} in this cloud")
    return found(resource)


def pick_images(connection: Any, choices: Choices) -> tuple[Found | None, Found | None]:
    image = _chosen("image", connection.image.find_image, choices.image, _image)
    image_alt = _chosen("image", connection.image.find_image, choices.image_alt, _image)
    active = [i for i in connection.image.images() if i.status == "active"]
    # cirros first: the small image every OpenStack test setup uses; then by size
    active.sort(key=lambda i: ("cirros" not in (i.name or "").lower(), i.size or 0, i.name or ""))
    if image is None and active:
        image = _image(active[0])
    if image_alt is None:
        others = [i for i in active if image is None or str(i.id) != image.id]
        image_alt = _image(others[0]) if others else image
    return image, image_alt


def pick_flavors(connection: Any, choices: Choices) -> tuple[Found | None, Found | None]:
    flavor = _chosen("flavor", connection.compute.find_flavor, choices.flavor)
    flavor_alt = _chosen("flavor", connection.compute.find_flavor, choices.flavor_alt)
    flavors = sorted(
        connection.compute.flavors(),
        key=lambda f: (f.ram or 0, f.vcpus or 0, f.disk or 0, f.name or ""),
    )
    if flavor is None and flavors:
        flavor = _found(flavors[0])
    if flavor_alt is None:
        bigger = [f for f in flavors if flavor is None or str(f.id) != flavor.id]
        flavor_alt = _found(bigger[0]) if bigger else flavor
    return flavor, flavor_alt


def pick_networks(connection: Any, choices: Choices) -> tuple[Found | None, Found | None]:
    network = _chosen("network", connection.network.find_network, choices.network)
    external = _chosen("network", connection.network.find_network, choices.external_network)
    networks = list(connection.network.networks())
    project = connection.current_project_id
    if network is None:
        own = [n for n in networks if not n.is_router_external and n.project_id == project]
        shared = [n for n in networks if not n.is_router_external and n.is_shared]
        candidates = own or shared
        network = _found(candidates[0]) if candidates else None
    if external is None:
        outside = [n for n in networks if n.is_router_external]
        external = _found(outside[0]) if outside else None
    return network, external


def microversion_range(connection: Any) -> tuple[str, str] | None:
    """The compute API's (min, max) microversion as its version document states it."""
    try:
        data = connection.compute.get_endpoint_data()
    except Exception:
        return None
    low, high = getattr(data, "min_microversion", None), getattr(data, "max_microversion", None)
    if low is None or high is None:
        return None
    return ".".join(map(str, low)), ".".join(map(str, high))


def volume_extensions(connection: Any) -> tuple[str, ...]:
    """The aliases of the block storage API's extensions (empty if it lists none), which
    Tempest's extension test expects in ``api_extensions``, as python-tempestconf writes it."""
    try:
        return tuple(str(e.alias) for e in connection.block_storage.extensions())
    except Exception:
        return ()
