"""Network namespaces made and entered by a short-lived thread of their own
(:func:`links.inside`): the calling thread stays in its namespace whatever happens, and a
namespace that could not be bound to its name leaves no mount point that would pass for it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from pyroute2 import netns

from interstack.backends.local.network import links
from interstack.errors import BackendError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="making a namespace takes root")


def own_namespace() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def test_a_namespace_is_made_and_entered_while_the_caller_stays_in_its_own() -> None:
    name = f"it-netns-thread-{os.getpid()}"
    before = own_namespace()
    try:
        links.ensure_netns(name)
        with links.inside(name) as ns:
            up = ns.get_links(ifname="lo")[0].get("state")
        assert up == "up"
        assert os.path.ismount(links.netns_path(name))
        assert own_namespace() == before
    finally:
        links.delete_netns(name)


def test_a_namespace_that_cannot_be_bound_leaves_no_mount_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"it-netns-unbound-{os.getpid()}"
    path = Path(links.netns_path(name))

    def attach(netns_name: str, pid: str) -> None:  # pyroute2's: the mount point, then the bind
        Path(links.netns_path(netns_name)).touch()
        raise OSError(errno.EPERM, "mount failed", netns_name)

    monkeypatch.setattr(netns, "attach", attach)
    before = own_namespace()
    try:
        with pytest.raises(BackendError, match="mount failed"):
            links.ensure_netns(name)
        assert not path.exists()
        assert own_namespace() == before
    finally:
        path.unlink(missing_ok=True)
