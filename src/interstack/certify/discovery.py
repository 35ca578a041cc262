"""What Tempest needs to know about a cloud, asked of the cloud itself through openstacksdk.

The catalog (service types, public endpoints, the identity service's id as RefStack's CPID),
images, flavors, networks and the compute microversion range. The user is asked (by a flag)
only for what cannot be discovered, and told in one line which flag supplies it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from interstack.certify import CertifyError

# guideline capability "project" -> catalog types that provide it (first found wins)
SERVICE_TYPES: dict[str, tuple[str, ...]] = {
    "keystone": ("identity",),
    "nova": ("compute",),
    "glance": ("image",),
    "neutron": ("network",),
    "cinder": ("block-storage", "volumev3", "volume"),
    "swift": ("object-store",),
}


@dataclass(frozen=True)
class Found:
    """A resource picked for Tempest: its id and a name to show (for an image also the user
    its guests let in over SSH, where the image says or its distribution implies it)."""

    id: str
    name: str
    login_user: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    project_name: str
    user_domain_name: str
    project_domain_name: str
    roles: tuple[str, ...] = ()  # the user's roles in the project (Tempest picks accounts by role)


@dataclass(frozen=True)
class Choices:
    """The user's overrides (names or ids) for what discovery would pick."""

    image: str | None = None
    image_alt: str | None = None
    flavor: str | None = None
    flavor_alt: str | None = None
    network: str | None = None
    external_network: str | None = None


@dataclass(frozen=True)
class CloudFacts:
    cloud: str
    region: str | None
    identity_uri: str  # ends in /v3
    cpid: str
    credentials: Credentials
    services: Mapping[str, str]  # catalog type -> public endpoint
    verify_tls: bool = True
    image: Found | None = None
    image_alt: Found | None = None
    flavor: Found | None = None
    flavor_alt: Found | None = None
    network: Found | None = None
    external_network: Found | None = None
    compute_microversions: tuple[str, str] | None = None
    volume_extensions: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def has(self, project: str) -> bool:
        return self.service_type(project) is not None

    def service_type(self, project: str) -> str | None:
        return next((t for t in SERVICE_TYPES.get(project, ()) if t in self.services), None)


def connect(cloud: str) -> Any:
    """An authenticated openstacksdk Connection; CertifyError says why there is none."""
    import keystoneauth1.exceptions as ksa
    import openstack
    import openstack.exceptions

    try:
        connection = openstack.connect(cloud=cloud)
    except openstack.exceptions.ConfigException as exc:
        raise CertifyError(f"cloud {cloud}: {_first_line(exc)}") from None
    auth_url = connection.config.config.get("auth", {}).get("auth_url", "?")
    try:
        connection.session.get_token()
    except ksa.Unauthorized:
        raise CertifyError(
            f"cloud {cloud}: {auth_url} refused the credentials (HTTP 401): "
            "check the user, password, project and domains in clouds.yaml"
        ) from None
    except (ksa.ConnectFailure, ksa.ConnectTimeout, ksa.DiscoveryFailure) as exc:
        raise CertifyError(f"cloud {cloud}: cannot reach {auth_url}: {_cause(exc)}") from None
    except ksa.ClientException as exc:
        raise CertifyError(f"cloud {cloud}: authentication failed: {_first_line(exc)}") from None
    return connection


def _cause(exc: BaseException) -> str:
    """The operating system's words (``[Errno 111] Connection refused``) when there are any."""
    found = re.search(r"\[Errno -?\d+\] [^\"'()]+", str(exc))
    return found.group(0).strip() if found else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _access(connection: Any) -> Any:
    return connection.session.auth.get_access(connection.session)


def _public_endpoints(catalog: Iterable[Mapping[str, Any]], region: str | None) -> dict[str, str]:
    endpoints: dict[str, str] = {}
    for service in catalog:
        for endpoint in service.get("endpoints", []):
            in_region = region is None or region in {
                endpoint.get("region"),
                endpoint.get("region_id"),
            }
            if endpoint.get("interface") == "public" and in_region:
                endpoints.setdefault(str(service["type"]), str(endpoint["url"]))
    return endpoints


def _cpid(catalog: Iterable[Mapping[str, Any]], identity_uri: str) -> str:
    """RefStack's cloud provider id: the identity service's id, else a hash of its host."""
    for service in catalog:
        if service.get("type") == "identity" and service.get("id"):
            return str(service["id"])
    host = urlsplit(identity_uri).hostname or identity_uri
    return hashlib.md5(host.encode(), usedforsecurity=False).hexdigest()


def _v3(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v3") else f"{url}/v3"


def _credentials(cloud: str, auth: Mapping[str, Any], roles: Iterable[str]) -> Credentials:
    missing = [k for k in ("username", "password", "project_name") if not auth.get(k)]
    if missing:
        raise CertifyError(
            f"cloud {cloud}: clouds.yaml gives no {', '.join(missing)}; Tempest needs a "
            "user and password scoped to a project (application credentials cannot create "
            "Tempest's test resources)"
        )
    default_domain = str(auth.get("domain_name") or auth.get("domain_id") or "Default")
    return Credentials(
        username=str(auth["username"]),
        password=str(auth["password"]),
        project_name=str(auth["project_name"]),
        user_domain_name=str(auth.get("user_domain_name") or default_domain),
        project_domain_name=str(auth.get("project_domain_name") or default_domain),
        roles=tuple(sorted(roles)),
    )


def discover(cloud: str, projects: Iterable[str], choices: Choices = Choices()) -> CloudFacts:
    """Facts about one cloud for the services the selected capabilities test."""
    connection = connect(cloud)
    config = connection.config
    region = config.get_region_name() or None
    access = _access(connection)
    catalog = list(access.service_catalog.catalog or [])
    services = _public_endpoints(catalog, region)
    auth = config.config.get("auth", {})
    identity_uri = _v3(str(auth.get("auth_url") or services.get("identity", "")))
    facts = CloudFacts(
        cloud=cloud,
        region=region,
        identity_uri=identity_uri,
        cpid=_cpid(catalog, identity_uri),
        credentials=_credentials(cloud, auth, access.role_names or ()),
        services=services,
        verify_tls=bool(config.config.get("verify", True)),
    )
    needed = sorted(set(projects))
    absent = [p for p in needed if not facts.has(p)]
    if absent:
        types = ", ".join("/".join(SERVICE_TYPES.get(p, (p,))) for p in absent)
        raise CertifyError(
            f"cloud {cloud} has no {types} service in its catalog, which the selected "
            f"capabilities test ({', '.join(absent)})"
        )
    if "nova" in needed:
        facts = _compute_facts(connection, facts, choices)
    if facts.has("neutron") and {"nova", "neutron"} & set(needed):
        # servers boot on the project's network; routers' gateways need the external one
        from interstack.certify.resources import pick_networks

        network, external = pick_networks(connection, choices)
        facts = replace(facts, network=network, external_network=external)
    if "cinder" in needed:
        from interstack.certify.resources import volume_extensions

        facts = replace(facts, volume_extensions=volume_extensions(connection))
    return facts


def _compute_facts(connection: Any, facts: CloudFacts, choices: Choices) -> CloudFacts:
    from interstack.certify.resources import microversion_range, pick_flavors, pick_images

    image, image_alt = pick_images(connection, choices)
    flavor, flavor_alt = pick_flavors(connection, choices)
    missing = [
        what
        for what, found in (
            ("an active image (--image)", image),
            ("a flavor (--flavor)", flavor),
        )
        if found is None
    ]
    if missing:
        raise CertifyError(
            f"cloud {facts.cloud}: could not find {' or '.join(missing)}; name one with the flag"
        )
    return replace(
        facts,
        image=image,
        image_alt=image_alt or image,
        flavor=flavor,
        flavor_alt=flavor_alt or flavor,
        compute_microversions=microversion_range(connection),
    )
