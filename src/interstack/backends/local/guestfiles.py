"""What an instance's guest reads as it boots, written into its disk before every boot: the
gateway's boots and the reboots the supervisor makes alike (:mod:`.rebooter`).

The config drive, the guest init's options, the cloud-init seed and settings, and
``/etc/resolv.conf`` follow from the instance's record and from two facts of its network that
only the gateway knows (:class:`GuestNetwork`: whether a port reaches the metadata service, the
DNS servers of its ports' subnets). The gateway writes those facts beside the record whenever
it learns them (each boot, a port attached or detached, a subnet's DNS servers changed), so a
reboot the supervisor makes, the gateway running or not, rewrites the same files a reboot by the
gateway would, from the state the gateway last wrote: while the gateway is down nothing newer
can exist, since every change to a server goes through it. The host name is the bundle's, which
the gateway writes from the same record (the server's name) at each of its boots. The metadata
service is the gateway's, but no reboot asks it: cloud-init reads it at an instance's first
boot, and at every later one restores what it read from its cache on the disk (its network
stage trusts the cache, and with the instance's network configuration off no boot event makes
it read again), so a guest rebooted while the gateway is down has the metadata as the gateway
last served it, as after a reboot by the gateway (and as a Nova VM, whose cloud-init keeps its
cache across reboots).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from interstack.backends.contract.compute import hostname_for
from interstack.backends.local import configdrive
from interstack.backends.local.guest import (
    write_boot_options,
    write_resolv_conf,
    write_seed,
)
from interstack.backends.local.instance_record import InstanceRecord
from interstack.backends.local.instances import Instance

#: an instance's config drive files, beside its disk (:mod:`.configdrive`)
CONFIG_DRIVE_DIR = "config-drive"
#: beside the record: the instance's :class:`GuestNetwork`, as the gateway last wrote it
GUEST_NETWORK = "guest-network.json"


@dataclass(frozen=True)
class GuestNetwork:
    """What the gateway's network tells the guest: whether one of its ports reaches the metadata
    service, and its subnets' DNS servers (None: the backend has no network, and the image's
    resolv.conf stays)."""

    metadata_service: bool
    resolvers: tuple[str, ...] | None


def save_network(instance: Instance, network: GuestNetwork) -> None:
    """Keep ``network`` beside the record, replaced whole (the instance's lock held)."""
    instance.dir.mkdir(parents=True, exist_ok=True)
    target = instance.dir / GUEST_NETWORK
    tmp = target.with_name(f".{GUEST_NETWORK}.tmp")
    resolvers = list(network.resolvers) if network.resolvers is not None else None
    facts = {"metadata_service": network.metadata_service, "resolvers": resolvers}
    tmp.write_text(json.dumps(facts))
    os.replace(tmp, target)


def load_network(instance: Instance) -> GuestNetwork | None:
    """The facts the gateway last wrote, or None (none yet, or a gateway from before them)."""
    try:
        raw = json.loads((instance.dir / GUEST_NETWORK).read_text())
        resolvers = raw["resolvers"]
        return GuestNetwork(
            metadata_service=bool(raw["metadata_service"]),
            resolvers=tuple(str(r) for r in resolvers) if resolvers is not None else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_guest_files(
    instance: Instance, record: InstanceRecord, network: GuestNetwork, disk: Path
) -> None:
    """Write what the guest reads as it boots into ``disk`` (the disk layer before the overlay
    is mounted, or the mounted root): its config drive, the guest init's options, the
    cloud-init seed and settings, its resolvers. ``BackendError`` for a path the guest made
    unwritable (a link on the way, :mod:`.diskfiles`)."""
    drive = configdrive.install(instance.dir / CONFIG_DRIVE_DIR, disk)
    # with user-data, the user's own bootcmd, users and keys come before sshd
    early_ssh = record.user_data is None
    write_boot_options(
        instance.boot_dir,
        instance_id=record.gateway_id,
        public_key=record.public_key,
        early_ssh=early_ssh,
        local_datasource=drive or not network.metadata_service,
    )
    write_seed(
        disk,
        instance_id=record.gateway_id,
        hostname=hostname_for(record.name),
        public_key=record.public_key,
        user_data=record.user_data,
        metadata_service=network.metadata_service,
        config_drive=drive,
        keep_host_keys=early_ssh,
        local_disks={local.name: local.device for local in record.local_disks},
    )
    if network.resolvers is not None:
        write_resolv_conf(disk, list(network.resolvers))
