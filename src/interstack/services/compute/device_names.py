"""The device names a server's disks get when nothing names them, as Nova's compute names them
(``get_next_device_name``): the root device's prefix (``/dev/sd`` for a root at ``/dev/sda``,
``/dev/xvd`` for ``/dev/xvda``, ``/dev/vd`` by default) and the first letter no device of the
server uses, whatever its prefix (``/dev/vdb`` in use keeps ``/dev/sdb`` free of a disk too).

Unlike Nova, the letter ``a`` is never given (the default root's, which the local backend keeps
for the root), so a server rooted at ``/dev/vdb`` gets ``/dev/vdc`` next, not ``/dev/vda``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

#: the prefix of the names made after a root of no known form
DEFAULT_PREFIX = "/dev/vd"
#: a disk's name as Nova's ``strip_prefix`` reads it: a bus's prefix (``vd``, ``xvd``, ``sd``,
#: ``hd``), the letters that tell the disk, then any partition number (``/dev/sda1``)
_DEVICE = re.compile(r"^(/dev/(?:x?v|s|h)d)([a-z]+)[0-9]*$")
#: a device's name under ``/dev``: one path component, no ``.`` or ``..`` (matched whole:
#: ``$`` alone would take a name ending in a newline)
_UNDER_DEV = re.compile(r"/dev/[a-zA-Z0-9][a-zA-Z0-9._-]*")


def device_prefix(root_device: str) -> str:
    """The prefix of ``root_device`` (``/dev/sd`` of ``/dev/sda``, ``sda`` too); the default
    one for a root device of no such form (``/dev/nvme0n1``, where Nova fails)."""
    found = _DEVICE.match(_with_dev(root_device))
    return found.group(1) if found else DEFAULT_PREFIX


def next_device_name(root_device: str, taken: Iterable[str]) -> str | None:
    """The first free name with the root device's prefix: no device in ``taken`` (or the root)
    has its letters; None when every one from ``b`` to ``z`` is used."""
    used = {_with_dev(d) for d in (*taken, root_device) if d}
    letters = {found.group(2) for d in used if (found := _DEVICE.match(d))}
    prefix = device_prefix(root_device)
    for letter in string.ascii_lowercase[1:]:
        candidate = prefix + letter
        if letter not in letters and candidate not in used:
            return candidate
    return None


def is_under_dev(name: str) -> bool:
    """Whether ``name`` (``vdb`` or ``/dev/vdb``) names one device under ``/dev``. Nova's
    schema takes dots and slashes (``/dev/../x``), which a hypervisor fails at the build; a
    backend may make a host path by the name, so the gateway refuses any other at once."""
    return bool(_UNDER_DEV.fullmatch(_with_dev(name)))


def device_letters(name: str | None) -> str | None:
    """The letters that tell a disk (``a`` of ``/dev/sda``, ``vda1`` or ``xvda``), as Nova's
    ``get_device_letter`` reads them; None for a name of no such form."""
    found = _DEVICE.match(_with_dev(name)) if name else None
    return found.group(2) if found else None


def _with_dev(name: str) -> str:
    return name if name.startswith("/dev/") else f"/dev/{name}"
