"""Where a local server's root disk is: the device the gateway says (Nova's root_device_name,
``/dev/sda`` for an image that names it), not always ``/dev/vda``. Its local disks may take
``/dev/vda`` then, never the root's device, and the guest's ``/sys/block`` shows the root disk
at its name. No root needed: nothing here reaches a loop device."""

from __future__ import annotations

from pathlib import Path

import pytest

from interstack.backends.contract import LocalDisk
from interstack.backends.local import localdisks, sysblock
from interstack.backends.local.compute import LocalCompute
from interstack.backends.local.images import LocalImages
from interstack.backends.local.instance_record import InstanceRecord
from interstack.backends.local.settings import LocalSettings
from interstack.backends.local.volumes import plug
from interstack.errors import BackendError, BadRequest
from interstack.services.compute.task_steps import server_spec
from interstack.store.models import Server
from tests.backends.local.helpers import spec


def disk_at(device: str) -> LocalDisk:
    return LocalDisk("ephemeral0", device, 64, "ext4")


def test_a_local_disk_may_take_vda_when_the_root_is_elsewhere_never_the_roots_device() -> None:
    localdisks.check([disk_at("/dev/vda")], "/dev/sda")
    with pytest.raises(BadRequest, match="/dev/sda is not a device name"):
        localdisks.check([disk_at("/dev/sda")], "/dev/sda")
    with pytest.raises(BadRequest, match="/dev/vda is not a device name"):
        localdisks.check([disk_at("/dev/vda")], "/dev/vda")


def test_the_guest_sees_its_root_disk_at_the_roots_device(tmp_path: Path) -> None:
    sysblock.reset(tmp_path, [], 1024**3, "/dev/sda")

    shown = sysblock.block_dir(tmp_path)
    assert sorted(p.name for p in shown.iterdir()) == ["sda"]
    assert (shown / "sda" / "size").read_text() == f"{1024**3 // 512}\n"
    assert (sysblock.devno_dir(tmp_path) / "253:0").readlink() == Path("../../block/sda")


def test_the_instance_keeps_the_root_device_it_was_given() -> None:
    record = InstanceRecord.from_spec(spec("at-sda", root_device="/dev/sda"))
    assert record.root_device == "/dev/sda"
    assert InstanceRecord.from_spec(spec("at-vda")).root_device == "/dev/vda"


def test_the_gateway_tells_the_backend_where_the_root_is() -> None:
    """The spec a boot (or a rebuild) gives the backend carries the server's root device
    (compute_servers.root_device_name); a row from before it was kept boots at /dev/vda."""
    flavor = {"vcpus": 1, "ram": 512, "disk": 1}
    row = Server(id="s", name="n", project_id="p", flavor=flavor, port_refs=[],
                 metadata_items={}, local_disks=[], root_device_name="/dev/sda")  # fmt: skip
    assert server_spec(row).root_device == "/dev/sda"
    row.root_device_name = None
    assert server_spec(row).root_device == "/dev/vda"


#: a root device name the gateway takes as Nova does (its pattern allows dots and slashes)
ESCAPING = "/dev/../../../escaped"


def test_a_root_device_leading_out_of_the_instance_is_refused_before_anything_exists(
    tmp_path: Path,
) -> None:
    """A user names the root's device (a root volume's device_name, an image's
    root_device_name); the backend makes the guest's /sys/block entry by it, as root, so a
    name that is not one path component is refused at the create, and nothing is written
    outside the instance's view (it was: a directory and its files where the name led)."""
    data = tmp_path / "data"
    compute = LocalCompute(data, LocalSettings(), LocalImages(tmp_path / "i", tmp_path / "c"))
    try:
        with pytest.raises(BadRequest, match="not a device name a server's root disk can be"):
            compute.create_server(spec("escaping", root_device=ESCAPING))
    finally:
        compute.close()

    view = tmp_path / "instance"
    with pytest.raises(BackendError, match="not a device name"):
        sysblock.reset(view, [], 1024**3, ESCAPING)
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("device", ["/dev/vdb\n", "/dev/vdb/", "/dev/", "/dev/VDB", "/dev/vdb\x00"])
def test_a_name_with_more_than_one_plain_name_is_refused_by_every_check(
    tmp_path: Path, device: str
) -> None:
    """Matched whole: ``$`` alone took a name ending in a newline (a node and a /sys/block
    entry named so)."""
    assert plug.device_name_refusal(device) is not None
    with pytest.raises(BadRequest):
        plug.check_root_device(device)
    with pytest.raises(BadRequest):
        plug.check_device_name(device)
    with pytest.raises(BackendError, match="not a device name"):
        sysblock.reset(tmp_path / "instance", [], 1024**3, device)
