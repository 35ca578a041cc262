"""What the network driver has realized, kept in one JSON file in the region's data dir.

The gateway's store owns the model; this file only remembers what the host needs to be rebuilt
from (MACs, addresses, rules, associations), so that the firewall and the router tables can be
regenerated whole after any change and after a gateway restart. It is written atomically.

Where each port is plugged is kept beside it, a small file per plugged port (:func:`save_plug`):
servers booting at once plug side by side, and saving the whole state for each plug (with its
fsync) held the driver's lock for most of a boot's network work.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from interstack.backends.contract import RuleDirection


class NetworkRecord(BaseModel):
    ref: str
    gateway_id: str
    name: str = ""
    project_id: str = ""
    mtu: int = 1500
    #: ``router:external``: realized by the host's external bridge, no tenant bridge of its own
    external: bool = False


class SubnetRecord(BaseModel):
    ref: str
    gateway_id: str
    network: str
    cidr: str
    gateway_ip: str | None = None
    ip_version: int = 4
    dhcp: bool = True
    dns_nameservers: list[str] = Field(default_factory=list)
    #: the DHCP/DNS server's address on the subnet (the gateway's DHCP port's)
    dhcp_address: str | None = None
    #: the DHCP port's MAC, which the namespace's leg on the bridge wears (None: a stable one)
    dhcp_mac: str | None = None
    #: the DHCP namespace's address on the external network (its way to the host's resolvers)
    dhcp_uplink_address: str | None = None

    @property
    def dhcp_server_address(self) -> str | None:
        """Where the subnet's DHCP server answers now (None: DHCP is off)."""
        return self.dhcp_address if self.dhcp else None


class FixedIpRecord(BaseModel):
    subnet: str
    address: str


class AddressPairRecord(BaseModel):
    ip_address: str
    mac_address: str | None = None


class PortRecord(BaseModel):
    ref: str
    gateway_id: str
    network: str
    mac_address: str
    fixed_ips: list[FixedIpRecord] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    allowed_address_pairs: list[AddressPairRecord] = Field(default_factory=list)
    #: the namespace the port is plugged into, if any (kept in its plug file, not the state's)
    netns: str | None = None
    ifname: str | None = None


class RouterRecord(BaseModel):
    ref: str
    gateway_id: str
    name: str = ""
    project_id: str = ""
    external_gateway: bool = False
    #: the router's own address on the external network (its SNAT address)
    gateway_address: str | None = None
    subnets: list[str] = Field(default_factory=list)


class RuleRecord(BaseModel):
    direction: RuleDirection
    ethertype: int = 4
    protocol: str | None = None
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str | None = None
    remote_group: str | None = None


class GroupRecord(BaseModel):
    ref: str
    gateway_id: str
    name: str = ""
    project_id: str = ""
    rules: list[RuleRecord] = Field(default_factory=list)


class FloatingIpRecord(BaseModel):
    ref: str
    gateway_id: str
    address: str
    port: str | None = None
    fixed_address: str | None = None


class NetworkState(BaseModel):
    networks: dict[str, NetworkRecord] = Field(default_factory=dict)
    subnets: dict[str, SubnetRecord] = Field(default_factory=dict)
    ports: dict[str, PortRecord] = Field(default_factory=dict)
    routers: dict[str, RouterRecord] = Field(default_factory=dict)
    groups: dict[str, GroupRecord] = Field(default_factory=dict)
    floating_ips: dict[str, FloatingIpRecord] = Field(default_factory=dict)

    def external_addresses_in_use(self) -> set[str]:
        """Addresses of the external network held by routers, DHCP uplinks and floating IPs."""
        used = {r.gateway_address for r in self.routers.values()}
        used |= {s.dhcp_uplink_address for s in self.subnets.values()}
        used |= {f.address for f in self.floating_ips.values()}
        return {a for a in used if a is not None}


#: beside the state file: a file per plugged port (:func:`save_plug`)
PLUGS_DIR = "plugs"
#: a port's fields kept in its plug file
PLUG_FIELDS = {"netns", "ifname"}


def load(path: Path) -> NetworkState:
    state = NetworkState.model_validate_json(path.read_bytes()) if path.exists() else NetworkState()
    plugs = path.parent / PLUGS_DIR
    if not plugs.is_dir():  # a state file from before plug files: its plugs move to them
        for port in state.ports.values():
            save_plug(path, port)
        plugs.mkdir(parents=True, exist_ok=True)
        return state
    for port in state.ports.values():
        try:
            found = json.loads((plugs / port.ref).read_text())
            port.netns, port.ifname = str(found["netns"]), found.get("ifname")
        except (OSError, ValueError, KeyError, TypeError):  # unplugged (or cut short by a crash)
            port.netns = port.ifname = None
    return state


def save_plug(path: Path, port: PortRecord) -> None:
    """Record where ``port`` is plugged (nowhere: its file goes), beside the state file
    ``path``. Replaced atomically but not synced: a plug names a namespace and links that a
    host crash takes with it, and a gateway crash leaves what was written."""
    plugs = path.parent / PLUGS_DIR
    target = plugs / port.ref
    if port.netns is None:
        target.unlink(missing_ok=True)
        return
    plugs.mkdir(parents=True, exist_ok=True)
    partial = plugs / f".{port.ref}.partial"
    partial.write_text(json.dumps({"netns": port.netns, "ifname": port.ifname}))
    os.replace(partial, target)


def forget_plug(path: Path, port: str) -> None:
    """The plug file of the deleted port ``port`` goes."""
    (path.parent / PLUGS_DIR / port).unlink(missing_ok=True)


def save(path: Path, state: NetworkState) -> None:
    """Replace the file atomically: a crash leaves the old or the new state, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    try:
        with os.fdopen(fd, "wb") as out:
            plugs = {"ports": {"__all__": PLUG_FIELDS}}  # in their own files
            out.write(state.model_dump_json(indent=1, exclude=plugs).encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
