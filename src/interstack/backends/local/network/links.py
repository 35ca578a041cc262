"""Links, namespaces, addresses and routes through pyroute2, with its errors translated.

Every function here is idempotent in the direction it is named: ``ensure_*`` leaves the object
present, ``delete_*`` leaves it absent, whatever was there before.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import logging
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pyroute2 import IPRoute, NetlinkError, netns

from interstack.errors import BackendError

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
IFA_F_NODAD = 0x02
CLONE_NEWNET = 0x40000000
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPOP_REQUEST = 1
#: when a plugged link's gratuitous ARPs go out (seconds after it is configured)
PLUGGED_ANNOUNCE_SECONDS = (0.0, 0.05, 0.15, 0.4)
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


@contextmanager
def host_errors(what: str) -> Iterator[None]:
    """Turn pyroute2 and OS errors into ``BackendError`` naming what was being done."""
    try:
        yield
    except NetlinkError as exc:
        raise BackendError(f"{what} failed: {os.strerror(exc.code)} (netlink)") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendError(f"{what} failed: {exc}") from exc


def netns_path(name_or_path: str | os.PathLike[str]) -> str:
    """A namespace's file: ``/run/netns/NAME`` for a bare name, else the path as given."""
    text = os.fspath(name_or_path)
    return text if "/" in text else str(NETNS_DIR / text)


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return link_index(ipr, name) is not None


def host_links(prefix: str) -> list[str]:
    """Names of the host's links that start with ``prefix``."""
    with host_errors("listing links"), IPRoute() as ipr:
        names = (str(link.get("ifname")) for link in ipr.get_links())
        return sorted(n for n in names if n.startswith(prefix))


def write_sysctl(key: str, value: str, namespace: str | None = None) -> None:
    """Set ``/proc/sys`` ``key`` (slash-separated, so interface names may hold dots) on the
    host or inside ``namespace``."""
    path = "/proc/sys/" + key
    if namespace is None:
        with host_errors(f"setting {key}"):
            Path(path).write_text(value)
        return
    run_in_netns(namespace, ["sysctl", "-q", "-w", f"{key}={value}"])


def run_in_netns(namespace: str, argv: Sequence[str], stdin: str | None = None) -> str:
    """Run a command inside ``namespace`` and return its output; failures are BackendErrors."""
    with host_errors(f"running {argv[0]} in {namespace}"):
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["ip", "netns", "exec", namespace, *argv],  # noqa: S607 - iproute2 from PATH
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise BackendError(
            f"{argv[0]} in {namespace} failed: {message[-1] if message else done.returncode}"
        )
    return done.stdout


def ensure_bridge(name: str, mtu: int) -> None:
    """A bridge that is up, carries no host address (not even IPv6 link-local), and hands
    its traffic to the host's inet firewall (``nf_call_iptables``)."""
    with host_errors(f"creating bridge {name}"), IPRoute() as ipr:
        if link_index(ipr, name) is None:
            try:
                ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
        disable_ipv6(name)
        index = link_index(ipr, name)
        ipr.link("set", index=index, state="up")


def disable_ipv6(name: str) -> None:
    conf = Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6")
    if conf.exists():
        conf.write_text("1")


def delete_link(name: str) -> None:
    """Remove a link (a veth takes its peer with it); a missing one is fine."""
    with host_errors(f"deleting link {name}"), IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            return
        try:
            ipr.link("del", index=index)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise


def _on_own_thread(work: Callable[[], T]) -> T:
    """``work()`` run on a thread of its own, which may change its network namespace: a
    namespace belongs to a thread, so the rest of the process stays where it is, and the
    change ends with the thread."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="netns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _route_socket() -> int:
    """A new rtnetlink socket of the calling thread's namespace, as a bare descriptor."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE).detach()


def _enter(path: str) -> None:
    """Move the calling thread into the namespace ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"entering {path}")
    finally:
        os.close(fd)


def _socket_inside(path: str) -> int:
    """On a thread that entered the namespace ``path``: a route socket there."""
    _enter(path)
    return _route_socket()


def _socket_of_new_netns(name: str) -> int:
    """On a thread that unshares its network namespace: that namespace bound to ``name``
    (as ``ip netns add`` does) and a route socket in it."""
    _check(_libc.unshare(CLONE_NEWNET), f"creating namespace {name}")
    try:
        netns.attach(name, "thread-self")  # binds /proc/thread-self/ns/net
    except OSError as exc:
        # pyroute2 makes the mount point first: one left unbound would pass for the namespace
        # (EEXIST: another's, being made now)
        path = netns_path(name)
        if exc.errno != errno.EEXIST and os.path.exists(path) and not os.path.ismount(path):
            os.unlink(path)
        raise
    return _route_socket()


@contextmanager
def inside(namespace: str, create: bool = False) -> Iterator[IPRoute]:
    """A netlink socket inside ``namespace`` (created first with ``create``), opened by a
    short-lived thread that enters it: ``IPRoute(netns=...)`` and ``ip -n`` fork the
    process, which costs the gateway tens of milliseconds per call on a loaded host."""
    path = netns_path(namespace)
    if create and not os.path.exists(path):
        fd = _on_own_thread(lambda: _socket_of_new_netns(os.path.basename(path)))
    else:
        fd = _on_own_thread(lambda: _socket_inside(path))
    try:
        ipr = IPRoute(fileno=fd)
    except BaseException:
        os.close(fd)
        raise
    with ipr:
        yield ipr


def ensure_netns(name: str) -> None:
    """A named network namespace with its loopback up."""
    with host_errors(f"creating namespace {name}"), inside(name, create=True) as ns:
        ns.link("set", index=link_index(ns, "lo"), state="up")


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def delete_netns(name: str) -> None:
    with host_errors(f"deleting namespace {name}"):
        if (NETNS_DIR / name).exists():
            netns.remove(name)


def host_namespaces(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def add_veth(
    host_name: str,
    inner_name: str,
    namespace: str,
    *,
    master: str,
    mtu: int,
    mac: str | None = None,
) -> None:
    """A veth pair: ``host_name`` on bridge ``master``, ``inner_name`` (with ``mac``) inside
    ``namespace``. A stale pair of the same host name is replaced."""
    delete_link(host_name)
    peer: dict[str, object] = {"ifname": inner_name, "mtu": mtu}
    if mac is not None:
        peer["address"] = mac
    with host_errors(f"creating veth {host_name}"), IPRoute() as ipr:
        fd = os.open(netns_path(namespace), os.O_RDONLY)
        try:
            peer["net_ns_fd"] = fd
            ipr.link("add", ifname=host_name, kind="veth", mtu=mtu, peer=peer)
        finally:
            os.close(fd)
        try:
            index = link_index(ipr, host_name)
            disable_ipv6(host_name)
            ipr.link("set", index=index, master=link_index(ipr, master), state="up")
        except BaseException:
            ipr.link("del", index=link_index(ipr, host_name))
            raise


def configure_inside(
    namespace: str,
    ifname: str,
    addresses: Sequence[str],
    gateways: Sequence[str] = (),
    routes: Sequence[tuple[str, str]] = (),
) -> None:
    """Inside ``namespace``: bring ``ifname`` up with ``addresses`` (CIDR notation, host part
    kept), default routes via ``gateways`` and the ``(destination, gateway)`` ``routes``,
    each unless the namespace has it already. One netlink socket for all."""
    with (
        host_errors(f"configuring {ifname} in {namespace}"),
        inside(namespace) as ns,
    ):
        index = link_index(ns, ifname)
        if index is None:
            raise BackendError(f"{ifname} is missing in namespace {namespace}")
        ns.link("set", index=index, state="up")
        for cidr in addresses:
            iface = ipaddress.ip_interface(cidr)
            # the gateway's IPAM made the address unique: no duplicate address detection, so
            # an IPv6 address works at once instead of after a second of probing
            extra = {"flags": IFA_F_NODAD} if iface.version == 6 else {}
            try:
                ns.addr(
                    "add",
                    index=index,
                    address=str(iface.ip),
                    prefixlen=iface.network.prefixlen,
                    family=_family(iface.version),
                    **extra,
                )
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
        defaults = [
            ("0.0.0.0/0" if ipaddress.ip_address(g).version == 4 else "::/0", g) for g in gateways
        ]
        for destination, gateway in [*defaults, *routes]:
            _add_route(ns, destination, gateway)


def _add_route(ns: IPRoute, destination: str, gateway: str) -> None:
    """Inside the namespace of ``ns``: a route to ``destination`` via ``gateway``, unless one
    exists."""
    version = ipaddress.ip_network(destination).version
    try:
        ns.route("add", dst=destination, gateway=gateway, family=_family(version))
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:  # an earlier port's route stays
            raise


def move_route(namespace: str, destination: str, old: str | None, new: str | None) -> None:
    """Inside ``namespace``: the route to ``destination`` via ``old`` (or none yet) goes via
    ``new`` instead (none with ``new`` None); a route via another gateway stays as it is."""
    network = ipaddress.ip_network(destination)
    version = network.version
    with host_errors(f"routing {destination} in {namespace}"), inside(namespace) as ns:
        # the whole table, filtered here: a ``dst`` filter makes pyroute2 look the route up
        current = [
            route.get_attr("RTA_GATEWAY")
            for route in ns.get_routes(family=_family(version))
            if route.get_attr("RTA_DST") == str(network.network_address)
            and route["dst_len"] == network.prefixlen
        ]
        if any(gateway != old for gateway in current):
            return
        for gateway in current:
            ns.route("del", dst=destination, gateway=gateway, family=_family(version))
        if new is not None:
            _add_route(ns, destination, new)


def _family(version: int) -> int:
    import socket

    return socket.AF_INET if version == 4 else socket.AF_INET6


def replace_addresses(namespace: str, ifname: str, wanted: Sequence[str]) -> list[str]:
    """Make ``ifname``'s IPv4 addresses inside ``namespace`` exactly ``wanted`` (CIDRs);
    returns the addresses (without prefix) it added."""
    with (
        host_errors(f"addressing {ifname} in {namespace}"),
        inside(namespace) as ns,
    ):
        index = link_index(ns, ifname)
        if index is None:
            raise BackendError(f"{ifname} is missing in namespace {namespace}")
        have = {
            f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
            for a in ns.get_addr(index=index, family=_family(4))
        }
        targets = {str(ipaddress.ip_interface(w)) for w in wanted}
        for command, cidrs in (("del", have - targets), ("add", targets - have)):
            for cidr in cidrs:
                iface = ipaddress.ip_interface(cidr)
                ns.addr(
                    command,
                    index=index,
                    address=str(iface.ip),
                    prefixlen=iface.network.prefixlen,
                )
    return sorted(str(ipaddress.ip_interface(cidr).ip) for cidr in targets - have)


def announce(namespace: str, ifname: str, addresses: Sequence[str]) -> None:
    """Send a gratuitous ARP for each IPv4 address from ``ifname`` inside ``namespace``, so
    neighbours that cached an earlier holder's MAC for it (a released floating IP handed out
    again, a router's gateway address reused) switch at once instead of after their cache
    entry's probes time out, seconds later. A courtesy: one that fails is logged, not raised
    (the address works without it once those entries expire)."""
    path = netns_path(namespace)
    try:
        _on_own_thread(lambda: _send_gratuitous_arps(path, ifname, addresses, (0.0,)))
    except OSError as exc:
        log.warning("announcing %s from %s: %s", ", ".join(addresses), namespace, exc)


def _gratuitous_arp(mac: bytes, address: str) -> bytes:
    """The Ethernet frame of a gratuitous ARP request: ``address`` is at ``mac``, to all."""
    ip = socket.inet_aton(address)
    header = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, ARPOP_REQUEST)
    return header + arp + mac + ip + b"\x00" * 6 + ip


def _send_gratuitous_arps(
    path: str, ifname: str, addresses: Sequence[str], seconds: Sequence[float]
) -> None:
    """On a thread of its own, which enters the namespace ``path``: a gratuitous ARP for each
    IPv4 address (an address or a CIDR) from ``ifname`` with its MAC, at each of ``seconds``
    from now (a raw socket: no process)."""
    v4 = [ipaddress.ip_interface(a).ip for a in addresses]
    _enter(path)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
        raw.bind((ifname, 0))
        mac = raw.getsockname()[4]
        frames = [_gratuitous_arp(mac, str(ip)) for ip in v4 if ip.version == 4]
        sent_at = 0.0
        for at in seconds:
            time.sleep(at - sent_at)
            sent_at = at
            for frame in frames:
                raw.send(frame)


def announce_plugged(namespace: str, ifname: str, addresses: Sequence[str]) -> None:
    """Announce a newly plugged link's IPv4 ``addresses`` (CIDRs) from inside ``namespace``
    with gratuitous ARPs, sent by a thread of their own at :data:`PLUGGED_ANNOUNCE_SECONDS`.
    A neighbour that tried to reach an address before the link existed (a router holding a
    client's connection to a server still booting) has an unresolved entry for it and asks
    again only a second later; an announcement resolves it at once. The first one may be lost
    (the link's bridge port starts forwarding a moment after the link comes up), hence
    several. A courtesy: failures are logged, never raised."""
    path = netns_path(namespace)
    if not any(ipaddress.ip_interface(a).version == 4 for a in addresses):
        return

    def send() -> None:
        try:
            _send_gratuitous_arps(path, ifname, addresses, PLUGGED_ANNOUNCE_SECONDS)
        except OSError as exc:  # the link went meanwhile (a server deleted at once)
            log.debug("announcing %s in %s: %s", ifname, namespace, exc)

    threading.Thread(target=send, name="netns-announce", daemon=True).start()


def free_ifname(namespace: str, prefix: str = "eth") -> str:
    """The lowest ``<prefix>N`` no link inside ``namespace`` is named (a port hot-plugged after
    another was unplugged takes the gap, as a guest's next free NIC would)."""
    with (
        host_errors(f"listing the links of {namespace}"),
        inside(namespace) as ns,
    ):
        taken = {str(link.get("ifname")) for link in ns.get_links()}
    index = 0
    while f"{prefix}{index}" in taken:
        index += 1
    return f"{prefix}{index}"
