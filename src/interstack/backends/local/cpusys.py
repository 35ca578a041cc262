"""The CPUs an instance sees in ``/sys/devices/system/cpu``: its flavor's vCPUs, not the host's.

``lscpu``, ``nproc --all`` and ``top`` (glibc's processor counts) read ``online``, ``present``,
``possible`` and the ``cpuN`` directories there, which on the host's sysfs list the host's CPUs
while ``/proc/cpuinfo`` lists the flavor's (:mod:`.procfiles`). So the backend builds a directory
of its own, bind-mounted read-only over it: ``online``/``present``/``possible`` say ``0-<n-1>``,
and vCPU ``k`` has a ``cpu<k>`` with the topology of a one-socket machine of ``n`` single-thread
cores and the caches of the host CPU it runs on (a cache the host CPU shares with others is
shared by all vCPUs, else it is the vCPU's own). The host's other entries that are plain text
(``kernel_max``, ``vulnerabilities/``, ``smt/``) are copied; the rest (cpufreq, cpuidle,
hotplug) is left out. A view depends only on the vCPU map and the host's boot (the copied entries
are the host kernel's), and is bind-mounted read-only: one is built per map and host boot, in a
directory shared by the instances (twenty instances of one vCPU on two host CPUs share two
views instead of writing 90 files each at boot), and views of an earlier host boot go. A view's
name also carries :data:`VIEW_FORMAT`, so that a gateway upgraded without a host reboot builds
views of its own format instead of reusing older ones (which running instances may still read).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

HOST_CPUS = Path("/sys/devices/system/cpu")
#: what a view holds and how; changed with any change to what :func:`_build` writes
VIEW_FORMAT = 1
#: the host kernel's boot (a new one: the copied entries may differ)
HOST_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
#: copied as they are from the host
COPIED_FILES = ("kernel_max", "modalias")
COPIED_DIRS = ("vulnerabilities", "smt")
#: a cache's entries copied from the host CPU's (sizes, geometry)
CACHE_FILES = (
    "level",
    "type",
    "size",
    "coherency_line_size",
    "ways_of_associativity",
    "number_of_sets",
    "physical_line_partition",
)


def cpu_list(cpus: list[int]) -> str:
    """A kernel CPU list: ``[0, 1, 2, 5]`` -> ``0-2,5``."""
    parts: list[str] = []
    for cpu in sorted(set(cpus)):
        if parts and parts[-1].rpartition("-")[2] == str(cpu - 1):
            parts[-1] = f"{parts[-1].partition('-')[0]}-{cpu}"
        else:
            parts.append(str(cpu))
    return ",".join(parts)


def cpu_mask(cpus: list[int]) -> str:
    """A kernel CPU mask: hex, in comma-separated groups of 32 CPUs (``[0, 1]`` -> ``3``)."""
    digits = format(sum(1 << cpu for cpu in set(cpus)), "x")
    groups = [digits[max(0, end - 8) : end] for end in range(len(digits), 0, -8)]
    return ",".join(reversed(groups))


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _put(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else f"{text}\n")


def _copy_text(source: Path, target: Path) -> None:
    text = _read(source)
    if text is not None:
        _put(target, text)


def _topology(target: Path, vcpu: int, every: list[int]) -> None:
    own, whole = [vcpu], every
    values = {
        "core_id": str(vcpu),
        "physical_package_id": "0",
        "die_id": "0",
        "cluster_id": str(vcpu),
    }
    for name, cpus in (
        ("thread_siblings", own),
        ("core_cpus", own),
        ("cluster_cpus", own),
        ("core_siblings", whole),
        ("die_cpus", whole),
        ("package_cpus", whole),
    ):
        values[name] = cpu_mask(cpus)
        values[f"{name}_list"] = cpu_list(cpus)
    for name, value in values.items():
        _put(target / "topology" / name, value)


def _caches(target: Path, vcpu: int, host_cpu: int, every: list[int]) -> None:
    for index in sorted((HOST_CPUS / f"cpu{host_cpu}" / "cache").glob("index*")):
        shared = (_read(index / "shared_cpu_list") or "").strip()
        cpus = [vcpu] if shared in ("", str(host_cpu)) else every
        for name in CACHE_FILES:
            _copy_text(index / name, target / "cache" / index.name / name)
        _put(target / "cache" / index.name / "shared_cpu_list", cpu_list(cpus))
        _put(target / "cache" / index.name / "shared_cpu_map", cpu_mask(cpus))


def write(views_dir: Path, mapping: list[int]) -> Path:
    """The view of an instance whose vCPU ``k`` runs on host CPU ``mapping[k]``; its path, in
    ``views_dir``. Built once per map on this host boot, complete before anyone sees it."""
    boot = (_read(HOST_BOOT_ID) or "").strip().replace("-", "") or "unknown"
    digest = hashlib.sha256(json.dumps(mapping).encode()).hexdigest()[:16]
    root = views_dir / f"{boot}-v{VIEW_FORMAT}-{digest}"
    if root.is_dir():
        return root
    views_dir.mkdir(parents=True, exist_ok=True)
    for entry in views_dir.iterdir():  # views of an earlier host boot (no instance runs)
        if not entry.name.lstrip(".").startswith(f"{boot}-"):
            shutil.rmtree(entry, ignore_errors=True)
    staging = views_dir / f".{root.name}.{os.getpid()}.{threading.get_ident()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _build(staging, mapping)
        try:
            staging.rename(root)
        except OSError:  # another boot of the same map built it meanwhile
            if not root.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _build(root: Path, mapping: list[int]) -> None:
    root.mkdir(parents=True)
    every = list(range(len(mapping)))
    for name in ("online", "present", "possible"):
        _put(root / name, cpu_list(every))
    for name in ("offline", "isolated"):
        _put(root / name, "")
    for name in COPIED_FILES:
        _copy_text(HOST_CPUS / name, root / name)
    for directory in COPIED_DIRS:
        for entry in sorted((HOST_CPUS / directory).glob("*")):
            if entry.is_file():
                _copy_text(entry, root / directory / entry.name)
    for vcpu, host_cpu in enumerate(mapping):
        target = root / f"cpu{vcpu}"
        target.mkdir()
        _topology(target, vcpu, every)
        _caches(target, vcpu, host_cpu, every)
