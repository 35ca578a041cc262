"""A server's ephemeral and swap disks (Nova's blank local disks): which it gets, at which
device and how large, made of its flavor and its create's mappings as Nova makes them.

The mappings' blank local disks are the server's ephemeral and swap disks; where they map none
of a kind, the flavor's own disk of that kind is given (``OS-FLV-EXT-DATA:ephemeral`` GB as
``ephemeral0``, ``swap`` MB as the swap disk). A disk without a device name takes the next free
name after the root with its prefix (``/dev/vdX`` after ``/dev/vda``), the ephemeral disks
first, then the swap disk (as Nova names them), before any volume named automatically. Only for
a region whose backend declares ``ephemeral_disks``: elsewhere a server gets none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from interstack.backends.contract import LocalDisk
from interstack.backends.contract.compute import DEFAULT_EPHEMERAL_FORMAT, SWAP_FORMAT
from interstack.errors import BadRequest
from interstack.services.compute.block_devices import (
    ROOT_DEVICE,
    BlockDevice,
    blank_local,
    device_path,
    is_ephemeral,
    is_swap,
)
from interstack.services.compute.device_names import next_device_name

MIB_PER_GIB = 1024


def with_local_disks(
    devices: Sequence[BlockDevice],
    *,
    ephemeral_gb: int,
    swap_mb: int,
    root_device: str = ROOT_DEVICE,
) -> tuple[BlockDevice, ...]:
    """``devices`` with the flavor's own ephemeral and swap disks added where no mapping
    replaces them, and every blank local disk at a device: its own, else the next free one
    (ephemeral disks first, then swap) with the root device's prefix (``/dev/sdb`` after a
    root at ``/dev/sda``), never ``/dev/vda``, so that a volume named automatically takes the
    one after them."""
    added: list[BlockDevice] = []
    if ephemeral_gb > 0 and not any(is_ephemeral(d) for d in devices):
        added.append(blank_local(ephemeral_gb, None))
    if swap_mb > 0 and not any(is_swap(d) for d in devices):
        added.append(blank_local(swap_mb, SWAP_FORMAT))
    listed = [*devices, *added]
    _check_named(listed, root_device)
    root = _root_of(listed, root_device)
    taken = {ROOT_DEVICE, root}
    taken |= {p for d in listed if (p := device_path(d.device_name)) is not None}
    named: dict[int, BlockDevice] = {}
    # ephemeral disks first, then the swap disk: Nova's order of the disks it names
    order = [i for i, d in enumerate(listed) if is_ephemeral(d)]
    order += [i for i, d in enumerate(listed) if is_swap(d)]
    for index in order:
        device = listed[index]
        if device.device_name:
            continue
        path = next_device_name(root, taken)
        if path is None:
            raise BadRequest("No free device name is left for the server's local disks.")
        taken.add(path)
        named[index] = replace(device, device_name=path)
    return tuple(named.get(i, d) for i, d in enumerate(listed))


def _root_of(devices: Sequence[BlockDevice], root_device: str) -> str:
    """Where the server's root is, as :func:`.boot_disks` puts it: the device a root volume's
    mapping names, else the boot image's root device (``root_device``)."""
    boots = next((d for d in devices if d.boot_index == 0 and d.destination_type == "volume"), None)
    named = device_path(boots.device_name) if boots is not None else None
    return named or device_path(root_device) or ROOT_DEVICE


def _check_named(devices: Sequence[BlockDevice], root_device: str) -> None:
    """A local disk a mapping names at the root's device, or at a device another mapping
    names, is a 400 before anything exists: the backend would be given two disks at one
    device (or refuse the root's) only once the create was accepted. ``/dev/vda`` is free
    for one where the root is elsewhere (an image's root device ``/dev/sda``)."""
    roots = {_root_of(devices, root_device)}
    for index, device in enumerate(devices):
        path = device_path(device.device_name)
        if path is None or not (is_ephemeral(device) or is_swap(device)):
            continue
        others = {
            device_path(d.device_name)
            for i, d in enumerate(devices)
            if i != index and d.destination_type is not None
        }
        if path in roots | others:
            raise BadRequest(f"The supplied device path ({path}) is in use.")


def local_disks(
    devices: Sequence[BlockDevice], *, ephemeral_gb: int, swap_mb: int
) -> tuple[LocalDisk, ...]:
    """The ephemeral and swap disks of a server booted with ``devices`` (as
    :func:`with_local_disks` named them): an ephemeral mapping without a size takes the
    flavor's ephemeral size, a swap one the flavor's swap; a disk of no size is no disk."""
    disks: list[LocalDisk] = []
    ephemeral = [d for d in devices if is_ephemeral(d) and d.device_name]
    for index, device in enumerate(ephemeral):
        size_gb = device.volume_size or ephemeral_gb
        if size_gb > 0:
            disks.append(
                LocalDisk(
                    name=f"ephemeral{index}",
                    device=str(device_path(device.device_name)),
                    size_mb=size_gb * MIB_PER_GIB,
                    guest_format=device.guest_format or DEFAULT_EPHEMERAL_FORMAT,
                )
            )
    swap = next((d for d in devices if is_swap(d) and d.device_name), None)
    if swap is not None and (swap.volume_size or swap_mb) > 0:
        disks.append(
            LocalDisk(
                name="swap",
                device=str(device_path(swap.device_name)),
                size_mb=swap.volume_size or swap_mb,
                guest_format=SWAP_FORMAT,
            )
        )
    return tuple(disks)


def stored(disks: Sequence[LocalDisk]) -> list[dict[str, Any]]:
    """The disks as a server's row keeps them."""
    return [asdict(d) for d in disks]


def loaded(rows: Sequence[Any]) -> tuple[LocalDisk, ...]:
    """The disks a server's row keeps (:func:`stored`)."""
    return tuple(
        LocalDisk(
            name=str(r["name"]),
            device=str(r["device"]),
            size_mb=int(r["size_mb"]),
            guest_format=str(r.get("guest_format") or DEFAULT_EPHEMERAL_FORMAT),
        )
        for r in rows
        if isinstance(r, dict)
    )
