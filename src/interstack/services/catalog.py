"""The service catalog: every served API, once per region, at the gateway's public URL.

An API package declares what it serves with a :class:`ServiceSpec`; the catalog is exactly those
services, so a client never finds an endpoint that is not there. A service whose URL names the
caller's project (Swift's ``/v1/AUTH_<project>``) declares a Keystone-style template,
``%(project_id)s``, which each token's catalog expands for its project.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import NoReturn

from interstack.errors import Conflict, Forbidden, NotFound

_NAMESPACE = uuid.UUID("5f0e4d4c-7a53-4c8b-9d0b-6f1c2e3a4b5c")

#: the placeholder of a per-project endpoint URL, as in Keystone's endpoint templates
PROJECT_ID = "%(project_id)s"


@dataclass(frozen=True)
class ServiceSpec:
    """One OpenStack service type served by the gateway.

    ``path`` is appended to the gateway's base URL; for regional services it is placed under the
    region's prefix (``/<region>/<path>``). ``regional=False`` is for identity, which is one service
    for all regions and is listed in each. A ``path`` holding :data:`PROJECT_ID` is expanded per
    token (see :meth:`Catalog.services`).
    """

    type: str
    name: str
    path: str
    regional: bool = True


@dataclass(frozen=True)
class Endpoint:
    id: str
    interface: str
    region: str
    url: str


@dataclass(frozen=True)
class CatalogService:
    id: str
    type: str
    name: str
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class RegionInfo:
    """A Keystone region: one region of the gateway's configuration, none inside another."""

    id: str
    description: str = ""
    parent_region_id: str | None = None


#: what a change of the regions is answered with: they are the gateway's configuration
REGIONS_CONFIGURED = (
    "the gateway's regions are its configuration (the regions of its settings file, each with "
    "its backend), not records the API changes; add, change or remove one there and restart the "
    "gateway"
)


def _stable_id(*parts: str) -> str:
    return uuid.uuid5(_NAMESPACE, "/".join(parts)).hex


def _for_project(endpoint: Endpoint, project_id: str | None) -> Endpoint:
    if project_id is None or PROJECT_ID not in endpoint.url:
        return endpoint
    url = endpoint.url.replace(PROJECT_ID, project_id)
    return Endpoint(endpoint.id, endpoint.interface, endpoint.region, url)


class Catalog:
    """Endpoints of every served service in every region. Ids are stable across restarts."""

    def __init__(self, base_url: str, regions: list[str], specs: list[ServiceSpec]) -> None:
        self.base_url = base_url.rstrip("/")
        self.regions = list(regions)
        self._services = tuple(self._build(spec) for spec in specs)

    def _url(self, spec: ServiceSpec, region: str) -> str:
        path = spec.path.strip("/")
        if spec.regional:
            return f"{self.base_url}/{region}/{path}" if path else f"{self.base_url}/{region}"
        return f"{self.base_url}/{path}" if path else self.base_url

    def _build(self, spec: ServiceSpec) -> CatalogService:
        endpoints = tuple(
            Endpoint(
                id=_stable_id("endpoint", spec.type, region, "public"),
                interface="public",
                region=region,
                url=self._url(spec, region),
            )
            for region in self.regions
        )
        return CatalogService(_stable_id("service", spec.type), spec.type, spec.name, endpoints)

    def services(self, project_id: str | None = None) -> tuple[CatalogService, ...]:
        """The catalog of a token scoped to ``project_id`` (None: a domain, system or no scope).

        Per-project endpoints are expanded for the project; without one they are left out, and
        so is a service left without endpoints, as Keystone does.
        """
        expanded: list[CatalogService] = []
        for service in self._services:
            endpoints = tuple(
                _for_project(endpoint, project_id)
                for endpoint in service.endpoints
                if project_id is not None or PROJECT_ID not in endpoint.url
            )
            if endpoints:
                expanded.append(CatalogService(service.id, service.type, service.name, endpoints))
        return tuple(expanded)

    def list_regions(self, parent_region_id: str | None = None) -> list[RegionInfo]:
        """The regions, in the configuration's order; with ``parent_region_id`` those inside it
        (none: every region here is a top-level one)."""
        found = [RegionInfo(name) for name in self.regions]
        if parent_region_id is None:
            return found
        return [r for r in found if r.parent_region_id == parent_region_id]

    def get_region(self, region_id: str) -> RegionInfo:
        if region_id not in self.regions:
            raise NotFound(f"Could not find region: {region_id}.")
        return RegionInfo(region_id)

    def refuse_region_change(self, region_id: str | None, *, creating: bool = False) -> NoReturn:
        """Always raises: 404 for a region that is not there (a change's), 409 for a create of
        one that is, else 403 — the regions are the gateway's configuration."""
        if creating and region_id in self.regions:
            raise Conflict(f"Duplicate ID, {region_id}: {REGIONS_CONFIGURED}")
        if not creating and region_id is not None:
            self.get_region(region_id)
        raise Forbidden(f"Regions cannot be changed through the API: {REGIONS_CONFIGURED}")

    def url_for(self, service_type: str, region: str, project_id: str | None = None) -> str:
        for service in self.services(project_id):
            if service.type == service_type:
                for endpoint in service.endpoints:
                    if endpoint.region == region:
                        return endpoint.url
        raise KeyError(f"{service_type} in {region}")
