"""The image properties a boot without an ``imageRef`` reads, as Nova's
``_get_bdm_image_metadata`` finds them: those of the image its root volume is made of, or those
a volume it brings (or a snapshot's volume) keeps as Cinder's ``volume_image_metadata``. The
server's root device name is theirs (:mod:`.boot` reads it where no mapping names one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from interstack.errors import BadRequest, NotFound
from interstack.services.compute.block_devices import BlockDevice
from interstack.services.compute.device_names import device_letters
from interstack.services.context import RequestContext
from interstack.services.interfaces import BootImage, BootImages, ServerBootVolumes


def mapped_root(
    images: BootImages,
    ctx: RequestContext,
    region: str,
    devices: Sequence[BlockDevice],
    session: Session,
) -> BootImage | None:
    """The image the root volume is made of (the mapping of ``boot_index`` 0 from an image):
    the boot's image, whose properties Nova reads (its ``root_device_name``). None if there is
    none, or it cannot be had: that is the boot's 400 on the root image, after the mappings'
    own."""
    root = next((d for d in devices if d.boot_index == 0), None)
    if root is None or (root.source_type, root.destination_type) != ("image", "volume"):
        return None
    try:
        return images.image_for_boot(ctx, region, str(root.uuid), session)
    except (NotFound, BadRequest):
        return None


def root_volume_properties(
    volumes: ServerBootVolumes | None,
    ctx: RequestContext,
    region: str,
    devices: Sequence[BlockDevice],
    session: Session,
    *,
    legacy: bool = False,
) -> Mapping[str, str] | None:
    """The image metadata of the volume the server boots from (the mapping of ``boot_index``
    0 from a volume or a snapshot): Nova reads the boot's image properties there. A
    ``legacy`` mapping (``block_device_mapping``) has no boot index yet: Nova reads the volume
    at the first letter (``vda``, ``sda``, ``xvda``), whichever bus. None if there is none."""
    if volumes is None:
        return None
    if legacy:
        root = next((d for d in devices if device_letters(d.device_name) == "a"), None)
    else:
        root = next((d for d in devices if d.boot_index == 0), None)
    if root is None or root.destination_type != "volume" or root.uuid is None:
        return None
    if root.source_type not in ("volume", "snapshot"):
        return None
    return volumes.image_properties(ctx, region, root.source_type, root.uuid, session)
