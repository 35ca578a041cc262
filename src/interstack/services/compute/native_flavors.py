"""The flavors of a region whose backend has sizes of its own (``native_flavors``: an aws
region's EC2 instance types): read from the backend, listed as Nova lists flavors, never
stored, created or deleted through the API.

The gateway's shared flavors (``m1.*``) are not this region's: a server boots exactly the size
its flavor names, so a shared flavor, which would run on whatever size holds it, is refused
with the region's own flavors named (see docs/aws-backend.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from interstack.backends.contract import NativeSize
from interstack.errors import BadRequest, Forbidden, NotFound
from interstack.services.compute.records import Flavor
from interstack.services.listing import Page, SortDir

#: Nova's sort keys of ``GET /flavors`` -> the value of a flavor it sorts by
SORT_KEYS: dict[str, Callable[[Flavor], Any]] = {
    "flavorid": lambda f: f.id,
    "id": lambda f: f.id,
    "name": lambda f: f.name,
    "memory_mb": lambda f: f.ram_mb,
    "vcpus": lambda f: f.vcpus,
    "root_gb": lambda f: f.disk_gb,
    "ephemeral_gb": lambda f: f.ephemeral_gb,
    "swap": lambda f: f.swap_mb,
    "rxtx_factor": lambda f: f.rxtx_factor,
    "is_public": lambda f: f.is_public,
    "description": lambda f: f.description or "",
    "created_at": lambda f: "",
}


def flavor(size: NativeSize) -> Flavor:
    """A native size as a Nova flavor: id and name the size's name, public, no extra specs."""
    return Flavor(
        id=size.name,
        name=size.name,
        vcpus=size.vcpus,
        ram_mb=size.ram_mb,
        disk_gb=size.disk_gb,
        ephemeral_gb=0,
        swap_mb=0,
        rxtx_factor=1.0,
        is_public=True,
        description=size.description,
        extra_specs={},
    )


def not_found(region: str, flavor_id: str, sizes: Sequence[NativeSize]) -> NotFound:
    """Nova's 404, naming the flavors the region has instead."""
    return NotFound(
        f"Flavor {flavor_id} could not be found. Region {region}'s flavors are its instance "
        f"types: {', '.join(s.name for s in sizes)}."
    )


def find(region: str, flavor_id: str, sizes: Sequence[NativeSize]) -> Flavor:
    for size in sizes:
        if size.name == flavor_id:
            return flavor(size)
    raise not_found(region, flavor_id, sizes)


def refused(region: str, what: str) -> Forbidden:
    """Nova's 403 for a change to a flavor of a region whose flavors are its cloud's sizes."""
    return Forbidden(
        f"Region {region}'s flavors are its cloud's instance types and cannot be {what} "
        f"through the API: change the region's instance_types setting instead."
    )


def listed(
    sizes: Sequence[NativeSize],
    *,
    is_public: bool | None,
    min_disk_gb: int | None,
    min_ram_mb: int | None,
    page: Page,
) -> list[Flavor]:
    """``GET /flavors`` over the sizes: Nova's filters, sort keys, marker and limit."""
    found = [flavor(s) for s in sizes]
    keys: list[tuple[Callable[[Flavor], Any], SortDir]] = []
    for name, direction in page.sort or [("flavorid", "asc")]:
        key = SORT_KEYS.get(name)
        if key is None:
            raise BadRequest(
                f"Invalid sort key {name!r}; valid keys: {', '.join(sorted(SORT_KEYS))}."
            )
        keys.append((key, direction))
    keys.append((SORT_KEYS["id"], keys[-1][1]))
    for key, direction in reversed(keys):  # stable sorts, last key first
        found.sort(key=key, reverse=direction == "desc")
    if page.marker is not None:  # the flavors after the marker's place, filtered or not
        ids = [f.id for f in found]
        if page.marker not in ids:
            raise BadRequest(f"marker [{page.marker}] not found")
        found = found[ids.index(page.marker) + 1 :]
    found = [
        f
        for f in found
        if is_public is not False
        and (min_disk_gb is None or f.disk_gb >= min_disk_gb)
        and (min_ram_mb is None or f.ram_mb >= min_ram_mb)
    ]
    return found if page.limit is None else found[: page.limit]
