"""``interstack cleanup``: take everything the local backend put on the host off it again.

Instances of the given regions are stopped (runc state, root mounts, their network namespaces),
then their supervisor; the roots of server captures and the disks of image unpacks cut short
are unmounted, and the loop devices of volumes and of servers' ephemeral and swap disks freed;
every network artifact on the host goes (:func:`.network.cleanup`: bridges, veths, router and
DHCP namespaces with their dnsmasqs, the nft tables), and then the cgroups interstack made
(the instances' parent, the gateways': :func:`.cpushare.release_groups`) once nothing runs in
them. What describes the cloud stays in the data
directories: servers' disks and records, volumes, the network state. A gateway started
afterwards builds the networks again and boots the servers that were running.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from interstack.backends.local import cpushare, hostlock, localdisks
from interstack.backends.local.host import run
from interstack.backends.local.images import release_unpacks
from interstack.backends.local.instance_record import REF_PREFIX
from interstack.backends.local.instances import Instance
from interstack.backends.local.network import cleanup as network_cleanup
from interstack.backends.local.network.hostlock import HostLock
from interstack.backends.local.snapshots import release_captures
from interstack.backends.local.supervisor import SupervisorClient
from interstack.backends.local.volumes.plug import free_loops
from interstack.backends.local.volumes.records import DISK
from interstack.errors import BackendUnavailable


def stop_instances(data_dir: Path) -> list[str]:
    """Stop every instance of the local region whose data directory is ``data_dir``, remove
    its network namespace, then stop the region's supervisor; the refs of the instances found."""
    instances_dir = data_dir / "instances"
    found: list[str] = []
    for directory in sorted(instances_dir.iterdir()) if instances_dir.is_dir() else []:
        if not directory.name.startswith(REF_PREFIX):
            continue
        instance = Instance(instances_dir, data_dir / "runc", directory.name)
        with hostlock.held(instance.dir):  # never in the middle of a reboot the supervisor makes
            instance.teardown()
        if instance.netns_path.exists():
            run(["ip", "netns", "delete", instance.netns_name], what="delete a network namespace")
        found.append(directory.name)
    SupervisorClient(data_dir).stop()  # their parent: nothing left for it to supervise
    return found


def free_volume_loops(data_dir: Path) -> None:
    """Free the loop devices of the region's volumes and of its servers' ephemeral and swap
    disks (a boot binds them again)."""
    for disk in sorted((data_dir / "volumes").glob(f"*/{DISK}")):
        free_loops(disk)
    for instance_dir in sorted((data_dir / "instances").glob(f"{REF_PREFIX}*")):
        localdisks.release(instance_dir)


def cleanup_host(data_dirs: Iterable[Path], *, lock_wait: float) -> list[str]:
    """Stop the instances of these regions, then remove every network artifact on the host
    and the cgroups that nothing runs in any more.
        Refuses (``BackendUnavailable``) while a gateway's network driver holds the host."""
    if os.geteuid() != 0:
        raise BackendUnavailable("cleaning up the local backend's host artifacts needs root")
    lock = HostLock()
    lock.acquire(lock_wait)
    try:
        regions = list(data_dirs)
        stopped = [ref for data_dir in regions for ref in stop_instances(data_dir)]
        for data_dir in regions:
            release_captures(data_dir)
            release_unpacks(data_dir)
            free_volume_loops(data_dir)
        network_cleanup(lock_wait=lock_wait)
        cpushare.release_groups()  # after the helpers that ran in the gateways' cgroup
    finally:
        lock.release()
    return stopped
