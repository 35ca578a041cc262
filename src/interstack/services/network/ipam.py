"""IP address management: the gateway chooses every fixed IP, from the subnet's pools.

An address in use is a row of ``ip_allocations``, unique per (subnet, address): two concurrent
requests that chose the same address cannot both commit, and the loser's unit of work runs again
(:func:`interstack.services.network.common.retrying`) and chooses another one.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict
from interstack.store import insert_rows, run_core, table_of
from interstack.store.models import IpAllocation, Subnet

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_RANDOM = random.SystemRandom()
#: above this many addresses a pool is probed at random instead of listed
_ENUMERABLE = 1 << 16
#: random candidates checked at once before a pool is listed in full
_PROBES = 16


@dataclass(frozen=True)
class IpRequest:
    """One entry of a port's ``fixed_ips``: a subnet, an address, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None


def default_pools(
    cidr: str, gateway_ip: str | None, reserved: Collection[str] = ()
) -> list[tuple[str, str]]:
    """Neutron's default pools: every usable host address except the gateway's and those the
    backend keeps for itself (``reserved``)."""
    net = ipaddress.ip_network(cidr)
    if net.version == 4:
        if net.prefixlen >= 31:
            first, last = int(net.network_address), int(net.broadcast_address)
        else:
            first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    else:
        first, last = int(net.network_address) + 1, int(net.broadcast_address)
    ranges = [(first, last)]
    excluded = {*reserved, *([gateway_ip] if gateway_ip is not None else [])}
    for address in sorted(int(ipaddress.ip_address(a)) for a in excluded):
        # each excluded address splits the range holding it in two; a piece may be empty
        ranges = [
            piece
            for a, b in ranges
            for piece in (((a, address - 1), (address + 1, b)) if a <= address <= b else ((a, b),))
            if piece[0] <= piece[1]
        ]
    make = ipaddress.ip_address
    return [(str(make(a)), str(make(b))) for a, b in ranges]


def validate_pools(
    cidr: str, gateway_ip: str | None, pools: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    net = ipaddress.ip_network(cidr)
    spans: list[tuple[int, int]] = []
    for start, end in pools:
        try:
            a, b = ipaddress.ip_address(start), ipaddress.ip_address(end)
        except ValueError as exc:
            raise BadRequest(f"Invalid allocation pool {start}-{end}.") from exc
        if a not in net or b not in net or a.version != net.version or int(a) > int(b):
            raise BadRequest(f"The allocation pool {start}-{end} spans beyond the subnet {cidr}.")
        if (
            net.version == 4
            and net.prefixlen < 31
            and (a == net.network_address or b == net.broadcast_address)
        ):
            raise BadRequest(f"The allocation pool {start}-{end} spans beyond the subnet {cidr}.")
        spans.append((int(a), int(b)))
    spans.sort()
    for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
        if next_start <= previous_end:
            raise BadRequest("Found overlapping allocation pools.")
    if gateway_ip is not None:
        gw = int(ipaddress.ip_address(gateway_ip))
        if any(a <= gw <= b for a, b in spans):
            raise Conflict(
                f"Gateway ip {gateway_ip} conflicts with allocation pool.",
                kind="GatewayConflictWithAllocationPools",
            )
    return [(start, end) for start, end in pools]


_ADDRESSES = table_of(IpAllocation).c
#: the addresses in use on a subnet (built once: run_core), all or among ``candidates``
_TAKEN = select(_ADDRESSES.ip_address).where(_ADDRESSES.subnet_id == bindparam("subnet_id"))
_TAKEN_OF = _TAKEN.where(_ADDRESSES.ip_address.in_(bindparam("candidates", expanding=True)))


def _taken(session: Session, subnet_id: str) -> set[str]:
    return set(run_core(session, _TAKEN, {"subnet_id": subnet_id}).scalars())


def _spans(subnet: Subnet) -> list[tuple[int, int]]:
    return [
        (int(ipaddress.ip_address(a)), int(ipaddress.ip_address(b)))
        for a, b in subnet.allocation_pools or []
    ]


def _probe(
    session: Session, subnet: Subnet, spans: list[tuple[int, int]], skip: set[str]
) -> str | None:
    """A free address among ``_PROBES`` chosen at random, asked of the store in one query;
    None when every one is taken (the pool is nearly full: the caller lists it instead)."""
    make = ipaddress.ip_address
    weights = [b - a + 1 for a, b in spans]
    candidates = {
        str(make(_RANDOM.randint(a, b)))
        for a, b in _RANDOM.choices(spans, weights=weights, k=_PROBES)
    } - skip
    if not candidates:
        return None
    params = {"subnet_id": subnet.id, "candidates": sorted(candidates)}
    taken = set(run_core(session, _TAKEN_OF, params).scalars())
    free = sorted(candidates - taken)
    return _RANDOM.choice(free) if free else None


def any_address(subnet: Subnet) -> str | None:
    """An address of the subnet's pools chosen at random (each as likely), without asking
    the store: for a subnet no address is taken on yet (one recorded in the same unit of
    work). None if the pools are empty."""
    spans = _spans(subnet)
    if not spans:
        return None
    a, b = _RANDOM.choices(spans, weights=[b - a + 1 for a, b in spans])[0]
    return str(ipaddress.ip_address(_RANDOM.randint(a, b)))


def free_address(session: Session, subnet: Subnet, exclude: Sequence[str] = ()) -> str | None:
    """A free address from the subnet's pools, chosen at random (so that concurrent choosers
    rarely collide), or None if every pool is full.

    A few random candidates are checked first, so that choosing costs the same in an empty
    pool of any size; only a pool where they are all taken is listed in full."""
    spans = _spans(subnet)
    total = sum(b - a + 1 for a, b in spans)
    skip = set(exclude)
    if total > 4 * _PROBES:
        found = _probe(session, subnet, spans, skip)
        if found is not None:
            return found
    taken = _taken(session, subnet.id) | skip
    make = ipaddress.ip_address
    if total <= _ENUMERABLE:
        free = [
            text for a, b in spans for n in range(a, b + 1) if (text := str(make(n))) not in taken
        ]
        return _RANDOM.choice(free) if free else None
    for _ in range(256):
        a, b = _RANDOM.choice(spans)
        text = str(make(_RANDOM.randint(a, b)))
        if text not in taken:
            return text
    return None


def in_subnet(subnet: Subnet, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(subnet.cidr)
    except ValueError:
        return False


def in_pools(subnet: Subnet, address: str) -> bool:
    """Whether ``address`` lies in one of the subnet's allocation pools."""
    value = int(ipaddress.ip_address(address))
    return any(start <= value <= end for start, end in _spans(subnet))


def choose(
    session: Session,
    network_id: str,
    subnets: Sequence[Subnet],
    requests: Sequence[IpRequest] | None,
) -> list[tuple[str, str]]:
    """The ``(subnet_id, address)`` pairs for ``requests`` (or Neutron's default: one address per
    IP version, from the first subnet with room), read from the store without writing to it.

    409 ``IpAddressAlreadyAllocated`` for a requested address in use, 409
    ``IpAddressGenerationFailure`` when no address is left.
    """
    by_id = {s.id: s for s in subnets}
    chosen: list[tuple[str, str]] = []
    if requests is None:
        for version in (4, 6):
            candidates = [s for s in subnets if s.ip_version == version]
            for subnet in candidates:
                address = free_address(session, subnet)
                if address is not None:
                    chosen.append((subnet.id, address))
                    break
            else:
                if candidates:
                    raise _exhausted(network_id)
    else:
        for request in requests:
            chosen.append(_one(session, network_id, subnets, by_id, request, chosen))
    return chosen


def hold(
    session: Session,
    network_id: str,
    chosen: Sequence[tuple[str, str]],
    *,
    port_id: str | None = None,
    floating_ip_id: str | None = None,
    first: int = 0,
) -> None:
    """Add and flush the allocation rows of ``chosen`` (the holder's fixed IPs from position
    ``first`` on): a concurrent winner of one of the addresses shows up here as an
    IntegrityError for the caller's retry."""
    session.flush()  # the holder's row first: the allocations refer to it
    rows = [
        IpAllocation(
            subnet_id=subnet_id,
            network_id=network_id,
            ip_address=address,
            port_id=port_id,
            floating_ip_id=floating_ip_id,
            position=position,
        )
        for position, (subnet_id, address) in enumerate(chosen, start=first)
    ]
    insert_rows(session, rows)  # one Core INSERT (executemany), not the ORM's flush


def _exhausted(network_id: str) -> Conflict:
    return Conflict(
        f"No more IP addresses available on network {network_id}.",
        kind="IpAddressGenerationFailure",
    )


def _one(
    session: Session,
    network_id: str,
    subnets: Sequence[Subnet],
    by_id: dict[str, Subnet],
    request: IpRequest,
    already: list[tuple[str, str]],
) -> tuple[str, str]:
    if request.subnet_id is not None:
        subnet = by_id.get(request.subnet_id)
        if subnet is None:
            raise BadRequest(
                f"Invalid input for operation: Failed to create port on network {network_id}, "
                f"because fixed_ips included invalid subnet {request.subnet_id}."
            )
    elif request.ip_address is not None:
        found = [s for s in subnets if in_subnet(s, request.ip_address)]
        if not found:
            raise BadRequest(
                f"Invalid input for operation: IP address {request.ip_address} is not a valid "
                f"IP for any of the subnets on the specified network."
            )
        subnet = found[0]
    else:
        raise BadRequest("Invalid input for operation: fixed_ips needs subnet_id or ip_address.")
    if request.ip_address is None:
        address = free_address(session, subnet, [a for s, a in already if s == subnet.id])
        if address is None:
            raise _exhausted(network_id)
        return subnet.id, address
    try:
        address = str(ipaddress.ip_address(request.ip_address))
    except ValueError as exc:
        raise BadRequest(f"Invalid input: {request.ip_address!r} is not an IP address.") from exc
    if not in_subnet(subnet, address):
        raise BadRequest(
            f"Invalid input for operation: IP address {address} is not a valid IP for the "
            f"specified subnet."
        )
    if address in _taken(session, subnet.id) or (subnet.id, address) in already:
        raise Conflict(
            f"IP address {address} already allocated in subnet {subnet.id}",
            kind="IpAddressAlreadyAllocated",
        )
    return subnet.id, address
