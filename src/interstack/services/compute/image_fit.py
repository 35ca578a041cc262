"""Whether an image fits the flavor (or the volume) a server boots or is rebuilt with: Nova's
400s, checked before anything is created, shared by the boot and the rebuild of a server."""

from __future__ import annotations

from interstack.errors import BadRequest
from interstack.services.compute.records import Flavor
from interstack.services.interfaces import BootImage, VolumeForBoot, VolumesAtRebuild

GIB = 1024**3


def check_root_volume_fits(flavor: Flavor, image: BootImage, volume: VolumeForBoot) -> None:
    """Nova's 400s for an image that a server boots from through a volume made of it: the
    flavor's memory and the volume's size count, not the flavor's disk."""
    if flavor.ram_mb < image.min_ram_mb:
        raise BadRequest("Flavor's memory is too small for requested image.")
    size = (volume.size_gb or 0) * GIB
    if image.min_disk_gb * GIB > size:
        raise BadRequest(
            "Volume is smaller than the minimum size specified in image metadata. Volume size "
            f"is {size} bytes, minimum size is {image.min_disk_gb * GIB} bytes."
        )
    if image.size_bytes is not None and image.size_bytes > size:
        raise BadRequest(
            f"Volume is smaller than the image it is made of. Volume size is {size} bytes, "
            f"image is {image.size_bytes} bytes; ask for a larger volume_size."
        )


def check_image_fits(flavor: Flavor, image: BootImage) -> None:
    """Nova's 400s for an image that does not fit the flavor (a disk of 0 means "any size")."""
    if flavor.ram_mb < image.min_ram_mb:
        raise BadRequest("Flavor's memory is too small for requested image.")
    if flavor.disk_gb == 0:
        return
    flavor_bytes = flavor.disk_gb * GIB
    if image.size_bytes is not None and image.size_bytes > flavor_bytes:
        raise BadRequest(
            "Flavor's disk is too small for requested image. Flavor disk is "
            f"{flavor_bytes} bytes, image is {image.size_bytes} bytes."
        )
    if image.min_disk_gb > flavor.disk_gb:
        raise BadRequest(
            "Flavor's disk is smaller than the minimum size specified in image metadata. "
            f"Flavor disk is {flavor_bytes} bytes, minimum size is {image.min_disk_gb * GIB} bytes."
        )


def check_rebuild_image(flavor: Flavor, image: BootImage, volumes: VolumesAtRebuild) -> None:
    """Nova's 400s for the image of a rebuild. A volume-backed server is rebuilt (before
    microversion 2.93) only with the image its root volume was made of, whose data the volume
    keeps: the flavor's disk does not count. Every volume must be ``in-use``."""
    if volumes.volume_backed:
        if image.id != volumes.root_image_id:
            raise BadRequest(
                f"Image {image.id} is unacceptable: Unable to rebuild with a different image "
                "for a volume-backed server."
            )
        if flavor.ram_mb < image.min_ram_mb:
            raise BadRequest("Flavor's memory is too small for requested image.")
    else:
        check_image_fits(flavor, image)
    if volumes.not_in_use:
        volume_id, status = volumes.not_in_use[0]
        raise BadRequest(
            f"Invalid volume: volume '{volume_id}' status must be 'in-use'. Currently in "
            f"'{status}' status"
        )
