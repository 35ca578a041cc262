"""What a conformance backend holds, by kind, as the backend itself records it: the sim's rows in
the store, the local backend's records on the host (its network driver's state file, its
volumes', stored images', object containers' and instances' directories). The conformance
suite looks before a test and after its deletes: what is new is what the test left behind.
Reading them costs a query or a few directory listings, nothing a test would notice. Where a
backend still names a security group (``*_group_mentions``) is read from the same records (and
the local host's nft table)."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from interstack.backends.contract import Backend
from interstack.backends.local.images import STORED_PREFIX
from interstack.backends.local.network import names
from interstack.backends.local.network.state import NetworkState
from interstack.backends.sim.state import Kind
from interstack.store.models import SimResource

Holdings = dict[str, set[str]]


def sim_holdings(backend: Backend) -> Holdings:
    """The sim's resources of the backend's region: every row it keeps, by kind."""
    db = backend.context.db
    assert db is not None, "the sim keeps its state in the store"
    held: Holdings = defaultdict(set)
    with db.session() as session:
        rows = session.execute(
            select(SimResource.kind, SimResource.ref, SimResource.name).where(
                SimResource.region == backend.context.region
            )
        )
        for kind, ref, name in rows:
            held[str(kind)].add(f"{ref} ({name})" if name else ref)
    return dict(held)


def sim_group_mentions(backend: Backend, ref: str) -> list[str]:
    """Where the sim still names the security group ``ref``: its row, other groups' rules."""
    db = backend.context.db
    assert db is not None, "the sim keeps its state in the store"
    found: list[str] = []
    with db.session() as session:
        rows = session.scalars(
            select(SimResource).where(
                SimResource.region == backend.context.region,
                SimResource.kind == Kind.SECURITY_GROUP,
            )
        )
        for row in rows:
            if row.ref == ref:
                found.append(f"security group {ref}")
            else:
                found += [
                    f"a rule of {row.ref}: {r}"
                    for r in row.data.get("rules", [])
                    if r.get("remote_group") == ref
                ]
    return found


def local_group_mentions(backend: Backend, ref: str) -> list[str]:
    """Where the local backend still names the security group ``ref``: its network driver's
    records (the group, other groups' rules) and the host's nft table (the set of the group's
    members, the rules matching it)."""
    state = _network_state(backend)
    found = [f"security group record {ref}"] if ref in state.groups else []
    for group in state.groups.values():
        if group.ref != ref:
            found += [f"a rule of {group.ref}: {r}" for r in group.rules if r.remote_group == ref]
    listed = subprocess.run(
        ["nft", "list", "table", "inet", names.TABLE],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    member_set = f"members-{names.suffix(ref)}-"
    return found + [
        f"nft: {line.strip()}" for line in listed.stdout.splitlines() if member_set in line
    ]


def _network_state(backend: Backend) -> NetworkState:
    state_file = backend.context.data_dir / "network" / "state.json"
    if not state_file.exists():
        return NetworkState()
    return NetworkState.model_validate_json(state_file.read_bytes())


def local_holdings(backend: Backend) -> Holdings:
    """The local backend's records in its data dir: the networks, subnets, ports, routers,
    security groups and floating IPs its network driver has realized, and a directory per
    volume or snapshot, stored image (its data: a deleted image's unpacked root stays while
    instances use it), object container and instance."""
    data = backend.context.data_dir
    state = _network_state(backend)
    held: Holdings = {
        kind: set(getattr(state, kind))
        for kind in ("networks", "subnets", "ports", "routers", "groups", "floating_ips")
    }
    held["volumes and snapshots"] = _names(data / "volumes")
    held["images"] = {
        name
        for name in _names(data / "images")
        if name.startswith(STORED_PREFIX) and (data / "images" / name / "data").exists()
    }
    held["object containers"] = _names(data / "objects" / "containers")
    held["instances"] = _names(data / "instances")
    return held


def _names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.is_dir() else set()


def new_since(before: Holdings, after: Holdings) -> dict[str, list[str]]:
    """What ``after`` holds that ``before`` did not, by kind (kinds with none left out)."""
    left = {kind: sorted(found - before.get(kind, set())) for kind, found in after.items()}
    return {kind: found for kind, found in left.items() if found}
