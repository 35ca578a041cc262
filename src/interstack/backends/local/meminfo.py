"""The ``/proc/meminfo`` an instance sees: its flavor's RAM and its own use of it (``free -m``).

The kernel's file shows the host's memory. The backend writes one per instance, bind-mounted
read-only over it, from the instance's memory cgroup: ``MemTotal`` is the flavor's RAM (the
cgroup's limit), ``MemFree`` what the instance does not use, ``Cached``/``Shmem`` its page cache,
``MemAvailable`` free plus cache; no swap. A bound file does not tick by itself, so the
supervisor rewrites it every few seconds while the instance runs (:func:`refresh`), in
place and at a fixed length, so a reader never sees it empty or cut short.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from interstack.backends.local import procfiles
from interstack.backends.local.host import CGROUP_PARENT, CGROUP_ROOT, CgroupMode, cgroup_mode

#: in an instance's directory (the instance's ``/proc/meminfo``)
MEMINFO = Path("proc") / "meminfo"
KiB = 1024
#: wide enough for any RAM in kB, so every rewrite has the same length
WIDTH = 12


def render(total: int, used: int, cache: int, shmem: int) -> str:
    """The file for ``total`` bytes of which ``used`` are in use, ``cache`` of them page cache."""
    used = min(max(used, 0), total)
    cache = min(max(cache, 0), used)
    fields = {
        "MemTotal": total,
        "MemFree": total - used,
        "MemAvailable": total - used + cache,
        "Buffers": 0,
        "Cached": cache,
        "SwapCached": 0,
        "SwapTotal": 0,
        "SwapFree": 0,
        "Shmem": min(max(shmem, 0), cache),
        "SReclaimable": 0,
    }
    return "".join(f"{name + ':':<16}{size // KiB:>{WIDTH}} kB\n" for name, size in fields.items())


def _usage(ref: str) -> tuple[int, int, int] | None:
    """(bytes in use, page cache, shmem) of instance ``ref``'s memory cgroup, if it has one."""
    if cgroup_mode() is CgroupMode.V2:
        group = CGROUP_ROOT / CGROUP_PARENT / ref
        usage_file, keys = group / "memory.current", ("file", "shmem")
    else:
        group = CGROUP_ROOT / "memory" / CGROUP_PARENT / ref
        usage_file, keys = group / "memory.usage_in_bytes", ("total_cache", "total_shmem")
    try:
        used = int(usage_file.read_text())
        stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
    except (OSError, ValueError):
        return None
    return used, int(stat.get(keys[0], 0)), int(stat.get(keys[1], 0))


def write(instance_dir: Path, total: int) -> Path:
    """The instance's file at boot, before it uses anything; its path."""
    target = instance_dir / MEMINFO
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(total, 0, 0, 0))
    return target


def _total(text: str) -> int:
    first = text.split("\n", 1)[0].split()
    return int(first[1]) * KiB


def refresh(instance_dir: Path) -> None:
    """Rewrite a running instance's file from its cgroup (its total kept)."""
    target = instance_dir / MEMINFO
    usage = _usage(instance_dir.name)
    if usage is None:
        return
    with contextlib.suppress(OSError, ValueError, IndexError):
        content = render(_total(target.read_text()), *usage).encode()
        procfiles.rewrite_in_place(target, content)
