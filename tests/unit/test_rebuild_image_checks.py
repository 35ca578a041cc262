"""Nova's 400s for the image of a rebuild (``check_rebuild_image``): a volume-backed server
takes only its root volume's image and its flavor's disk does not count; any volume of the
server that is not ``in-use`` refuses the rebuild."""

from __future__ import annotations

import pytest

from interstack.errors import BadRequest
from interstack.services.compute.image_fit import check_rebuild_image
from interstack.services.compute.records import Flavor
from interstack.services.interfaces import BootImage, VolumesAtRebuild

GIB = 1024**3
FLAVOR = Flavor(id="1", name="tiny", vcpus=1, ram_mb=512, disk_gb=1, ephemeral_gb=0, swap_mb=0,
                rxtx_factor=1.0, is_public=True, description=None, extra_specs={})  # fmt: skip


def image(image_id: str = "img", *, size: int = 2 * GIB, min_ram: int = 0) -> BootImage:
    """An image larger than the flavor's 1 GiB disk (a volume-backed server does not mind)."""
    return BootImage(id=image_id, name=image_id, min_disk_gb=0, min_ram_mb=min_ram,
                     size_bytes=size, disk_format="raw", container_format="bare",
                     native_ref=None)  # fmt: skip


def test_a_volume_backed_server_takes_its_root_volumes_image_whatever_the_flavors_disk() -> None:
    check_rebuild_image(FLAVOR, image(), VolumesAtRebuild(volume_backed=True, root_image_id="img"))
    with pytest.raises(BadRequest, match="Flavor's disk is too small"):
        check_rebuild_image(FLAVOR, image(), VolumesAtRebuild(volume_backed=False))


def test_another_image_or_a_root_volume_of_no_image_is_unacceptable() -> None:
    for root_image in ("other", None):
        volumes = VolumesAtRebuild(volume_backed=True, root_image_id=root_image)
        with pytest.raises(BadRequest) as refused:
            check_rebuild_image(FLAVOR, image(), volumes)
        assert refused.value.message == (
            "Image img is unacceptable: Unable to rebuild with a different image for a "
            "volume-backed server."
        )


def test_the_flavors_memory_still_counts_for_a_volume_backed_server() -> None:
    volumes = VolumesAtRebuild(volume_backed=True, root_image_id="img")
    with pytest.raises(BadRequest, match="Flavor's memory is too small"):
        check_rebuild_image(FLAVOR, image(min_ram=1024), volumes)


def test_a_volume_that_is_not_in_use_refuses_the_rebuild() -> None:
    volumes = VolumesAtRebuild(volume_backed=False, not_in_use=(("vol-1", "detaching"),))
    with pytest.raises(BadRequest) as refused:
        check_rebuild_image(FLAVOR, image(size=GIB), volumes)
    assert refused.value.message == (
        "Invalid volume: volume 'vol-1' status must be 'in-use'. Currently in 'detaching' status"
    )
