"""Subnet pools (``subnet_allocation``): prefixes that subnets are carved from by length.

A pool lives only in the gateway's model: its subnets are ordinary subnets, realized as any
other. Carving runs while the network being given the subnet is locked; two subnets of one pool
on different networks are kept apart by re-checking the pool's subnets after locking the pool.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network import quotas
from interstack.services.network.common import (
    CALLER_PROJECT,
    Filters,
    SeenById,
    check_owner,
    new_id,
    now,
    stamp,
    tenant_of,
    visible_page,
)
from interstack.services.network.records import SubnetPoolInfo
from interstack.store import Database
from interstack.store.models import Subnet, SubnetPool

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

COLUMNS = {
    "id": SubnetPool.id,
    "name": SubnetPool.name,
    "description": SubnetPool.description,
    "project_id": SubnetPool.project_id,
    "tenant_id": SubnetPool.project_id,
    "ip_version": SubnetPool.ip_version,
    "default_prefixlen": SubnetPool.default_prefixlen,
    "min_prefixlen": SubnetPool.min_prefixlen,
    "max_prefixlen": SubnetPool.max_prefixlen,
    "shared": SubnetPool.shared,
    "is_default": SubnetPool.is_default,
    "created_at": SubnetPool.created_at,
    "updated_at": SubnetPool.updated_at,
}


@dataclass(frozen=True)
class SubnetPoolCreate:
    prefixes: tuple[str, ...]
    name: str = ""
    description: str = ""
    project_id: str | None = None
    default_prefixlen: int | None = None
    min_prefixlen: int | None = None
    max_prefixlen: int | None = None
    shared: bool = False
    is_default: bool = False


def pool_info(row: SubnetPool) -> SubnetPoolInfo:
    return SubnetPoolInfo(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        ip_version=row.ip_version,
        prefixes=tuple(row.prefixes or ()),
        default_prefixlen=row.default_prefixlen,
        min_prefixlen=row.min_prefixlen,
        max_prefixlen=row.max_prefixlen,
        shared=row.shared,
        is_default=row.is_default,
        stamp=stamp(row),
    )


#: the pools a caller who is no admin sees: its project's (bound at each run; a caller of no
#: project: none of its own) and shared ones
_SEEN_POOLS = or_(SubnetPool.project_id == CALLER_PROJECT, SubnetPool.shared)


def visible_pools(ctx: RequestContext) -> ColumnElement[bool]:
    if ctx.is_admin:
        return true()
    return _SEEN_POOLS.params(caller_project=ctx.project_id or "")


def _missing(pool_id: str) -> NotFound:
    return NotFound(f"Subnet pool {pool_id} could not be found.", kind="SubnetPoolNotFound")


#: a pool by id as :func:`visible_pools` sees it (a caller of no project: the shared ones),
#: by statements built once
_SEEN = SeenById(SubnetPool, _SEEN_POOLS, _missing, projectless_sees=True)


def load_pool(session: Session, ctx: RequestContext, region: str, pool_id: str) -> SubnetPool:
    return _SEEN.load(session, ctx, region, pool_id)


def _prefixes(values: Sequence[str]) -> list[IpNetwork]:
    nets: list[IpNetwork] = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(value))
        except ValueError as exc:
            raise BadRequest(f"Invalid input for prefixes: '{value}' is not a valid CIDR.") from exc
    if not nets:
        raise BadRequest("Invalid input for prefixes: a subnet pool needs at least one prefix.")
    if len({n.version for n in nets}) != 1:
        raise BadRequest("Invalid input for prefixes: all prefixes must be of one IP version.")
    collapsed = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]
    return list(collapsed)


def carve(
    session: Session,
    pool: SubnetPool,
    cidr: str | None,
    prefixlen: int | None,
    ip_version: int,
) -> IpNetwork:
    """The CIDR of a new subnet from ``pool``: the one asked for if it is free and inside the
    pool, else the first free prefix of ``prefixlen`` (the pool's default). 409 when full."""
    if pool.ip_version != ip_version:
        raise BadRequest(
            f"Bad subnets request: subnet pool {pool.id} is IPv{pool.ip_version}, "
            f"the subnet IPv{ip_version}."
        )
    session.execute(update(SubnetPool).where(SubnetPool.id == pool.id).values(updated_at=now()))
    prefixes = [ipaddress.ip_network(p) for p in pool.prefixes]
    taken = [
        ipaddress.ip_network(c)
        for c in session.scalars(select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id))
    ]
    if cidr is not None:
        wanted = ipaddress.ip_network(cidr)
        if not any(wanted.subnet_of(p) for p in prefixes):  # type: ignore[arg-type]
            raise BadRequest(f"Bad subnets request: {cidr} is not in subnet pool {pool.id}.")
        if any(wanted.overlaps(t) for t in taken):
            raise Conflict(f"Subnet {cidr} overlaps a subnet allocated from pool {pool.id}.")
        return wanted
    length = prefixlen if prefixlen is not None else pool.default_prefixlen
    if not pool.min_prefixlen <= length <= pool.max_prefixlen:
        raise BadRequest(
            f"Illegal prefix bounds: prefixlen={length}, min_prefixlen={pool.min_prefixlen}, "
            f"max_prefixlen={pool.max_prefixlen}."
        )
    for prefix in prefixes:
        if length < prefix.prefixlen:
            continue
        for candidate in prefix.subnets(new_prefix=length):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    raise Conflict(
        f"Unable to allocate subnet with prefix length {length}, no free prefix in pool {pool.id}.",
        kind="SubnetAllocationError",
    )


class SubnetPoolService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, ctx: RequestContext, region: str, new: SubnetPoolCreate) -> SubnetPoolInfo:
        project_id = tenant_of(ctx, new.project_id)
        if (new.shared or new.is_default) and not ctx.is_admin:
            raise BadRequest("Only an admin may create a shared or default subnet pool.")
        nets = _prefixes(new.prefixes)
        version = nets[0].version
        widest = max(n.max_prefixlen for n in nets)
        min_len = new.min_prefixlen if new.min_prefixlen is not None else 8 if version == 4 else 64
        max_len = new.max_prefixlen if new.max_prefixlen is not None else widest
        default_len = new.default_prefixlen if new.default_prefixlen is not None else min_len
        if not 0 <= min_len <= default_len <= max_len <= widest:
            raise BadRequest(
                f"Illegal prefix bounds: min_prefixlen={min_len}, "
                f"default_prefixlen={default_len}, max_prefixlen={max_len}."
            )
        at = now()
        with self.db.session() as session:
            quotas.check(session, region, project_id, "subnetpool")
            row = SubnetPool(
                id=new_id(),
                region=region,
                project_id=project_id,
                name=new.name,
                description=new.description,
                ip_version=version,
                prefixes=[str(n) for n in nets],
                default_prefixlen=default_len,
                min_prefixlen=min_len,
                max_prefixlen=max_len,
                shared=new.shared,
                is_default=new.is_default,
                tags=[],
                created_at=at,
                updated_at=at,
            )
            session.add(row)
            return pool_info(row)

    def get(self, ctx: RequestContext, region: str, pool_id: str) -> SubnetPoolInfo:
        with self.db.session() as session:
            return pool_info(load_pool(session, ctx, region, pool_id))

    def list_page(
        self, ctx: RequestContext, region: str, filters: Filters, page: Page
    ) -> list[SubnetPoolInfo]:
        with self.db.session() as session:
            visible = visible_pools(ctx)
            rows = visible_page(session, SubnetPool, region, visible, filters, page, COLUMNS)
            return [pool_info(r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, pool_id: str, values: dict[str, Any]
    ) -> SubnetPoolInfo:
        with self.db.session() as session:
            row = load_pool(session, ctx, region, pool_id)
            check_owner(ctx, row.project_id, "subnet pool", pool_id)
            for key in ("name", "description"):
                if values.get(key) is not None:
                    setattr(row, key, values[key])
            if values.get("prefixes") is not None:
                nets = _prefixes(values["prefixes"])
                old = [ipaddress.ip_network(p) for p in row.prefixes]
                if not all(any(o.subnet_of(n) for n in nets) for o in old):  # type: ignore[arg-type]
                    raise BadRequest("Existing prefixes must be a subset of the new prefixes.")
                row.prefixes = [str(n) for n in nets]
            for key in ("default_prefixlen", "min_prefixlen", "max_prefixlen"):
                if values.get(key) is not None:
                    setattr(row, key, int(values[key]))
            if not row.min_prefixlen <= row.default_prefixlen <= row.max_prefixlen:
                raise BadRequest("Illegal prefix bounds: min <= default <= max is required.")
            row.updated_at = now()
            return pool_info(row)

    def delete(self, ctx: RequestContext, region: str, pool_id: str) -> None:
        with self.db.session() as session:
            row = load_pool(session, ctx, region, pool_id)
            check_owner(ctx, row.project_id, "subnet pool", pool_id)
            in_use = session.scalar(
                select(func.count()).select_from(Subnet).where(Subnet.subnetpool_id == pool_id)
            )
            if in_use:
                raise Conflict(
                    f"Unable to delete subnet pool {pool_id}: subnets are allocated from it.",
                    kind="SubnetPoolInUse",
                )
            session.delete(row)
